/**
 * What every benchmark shares: where the built binary is, a temporary folder, Mai configs written
 * to disk (each turn's state in the folder), the environment a spawned Mai runs in, and sleeping.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** The `mai` bin as npm installs it (package.json's bin: the bundle scripts/build.js writes). */
export const binPath = join(repoRoot, JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).bin.mai);
export const benchDir = join(repoRoot, 'bench');

/**
 * The V8 code cache of every Mai a benchmark spawns ($XDG_CACHE_HOME/mai, rpc/code-cache.ts): one folder of the
 * system's temp dir for every run, never the user's own ~/.cache. Kept from run to run (a host a run started writes
 * its entries as it exits, after the run): a build's first launch writes its entries, the later ones compile from
 * them, as a user's second and later runs of a build do; the folders of builds not written to for a week are removed.
 */
const codeCacheHome = join(tmpdir(), `mai-bench-code-cache-${process.getuid?.() ?? 'user'}`);

/** @param {number} ms */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** @returns {Promise<{ path: string, cleanup(): Promise<void> }>} */
export async function tempDir() {
  const path = await mkdtemp(join(tmpdir(), 'mai-bench-'));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

/**
 * @typedef {object} BenchBackend
 * @property {string} name
 * @property {string} baseURL
 */

/**
 * @typedef {object} BenchConfigOptions
 * @property {BenchBackend[]} backends
 * @property {boolean} [monitor] sample resources at the default interval (default: off). A measured
 *   run samples, as users' Mai does; a smoke run (`monitor: !smoke`) leaves it off wherever the suite
 *   does not measure sampling itself: the sampler's worker and its GPU probe cost ~0.2 CPU-s a
 *   process and the suite runs the same code without it (the monitor suite keeps it)
 * @property {Array<{ id: string, priority?: number }>} [models]
 * @property {number} [parallelPerModel] fallback.parallelPerModel (turns one model answers at once; Mai's default 1)
 * @property {string} [name] file name (default mai.config.yaml)
 * @property {boolean} [llamaCpp] let the openai backend ask llama.cpp's /props (its slots) and /tokenize (default: off)
 */

/**
 * Writes a config: OpenAI-compatible loopback backends, Mai's default scorers (no `scorers:` key:
 * the schema's DEFAULT_SCORERS, so a bench measures the set users get), fallback with no
 * retry of the same model (a failure moves on at once) and no cooldown (every turn tries the
 * primary again), conversations in ./state. Returns its path.
 * @param {string} dir
 * @param {BenchConfigOptions} options
 */
export async function writeBenchConfig(dir, options) {
  const backends = options.backends
    .map((b) => `  - use: openai\n    name: ${b.name}\n    options: { baseURL: "${b.baseURL}", llamaCppExtras: ${options.llamaCpp ? 'true' : 'false'} }`)
    .join('\n');
  const models = (options.models ?? []).map((m) => `  - { id: ${m.id}, priority: ${m.priority ?? 0} }`).join('\n');
  const yaml = `backends:
${backends}
${models ? `models:\n${models}\n` : ''}fallback: { retries: 0, backoffMs: 0, failuresBeforeCooldown: 100000${options.parallelPerModel ? `, parallelPerModel: ${options.parallelPerModel}` : ''} }
monitor: { enabled: ${options.monitor ? 'true' : 'false'} }
context: { stateDir: ./state, summary: digest }
switching: { preload: false }
`;
  const file = join(dir, options.name ?? 'mai.config.yaml');
  await writeFile(file, yaml);
  return file;
}

/**
 * The environment a spawned Mai runs in: state in `stateDir`, warnings only, no config from the
 * environment.
 * @param {string} stateDir
 * @returns {NodeJS.ProcessEnv}
 */
export function maiEnv(stateDir) {
  /** @type {NodeJS.ProcessEnv} */
  const env = { ...process.env, MAI_STATE_DIR: stateDir, XDG_STATE_HOME: stateDir, XDG_CACHE_HOME: codeCacheHome, MAI_LOG: 'warn', MAI_STANDALONE: '1' };
  delete env.MAI_CONFIG;
  delete env.NODE_OPTIONS;
  return env;
}

/** Every child process the benchmark started, ended when it exits however it exits. */
const children = new Set();
/** @param {import('node:child_process').ChildProcess} child */
export function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
  process.once(signal, () => {
    for (const child of children) child.kill('SIGKILL');
    process.exit(130);
  });
}

/** A port on 127.0.0.1 that was free a moment ago. */
export async function freePort() {
  const { createServer } = await import('node:net');
  const probe = createServer();
  await new Promise((resolve) => probe.listen(0, '127.0.0.1', () => resolve(undefined)));
  const address = probe.address();
  await new Promise((resolve) => probe.close(() => resolve(undefined)));
  return typeof address === 'object' && address ? address.port : 0;
}

/**
 * Waits until something accepts TCP connections on 127.0.0.1:port.
 * @param {number} port
 * @param {number} timeoutMs
 */
export async function waitForPort(port, timeoutMs) {
  const { connect } = await import('node:net');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listened on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await sleep(50);
  }
}
