/**
 * The forwarder stays thin: `mai serve` forwarding to the shared host loads neither zod, nor the
 * protocol's schemas, nor vscode-jsonrpc, nor Mai's core (the pipeline, the config schema, the
 * plugins) — only the host's client side (rpc/host/), the byte framing, and the few zod-free
 * leaves of core/ that say where the host lives (the config file lookup, the state folder).
 * The real process (the `mai` bin, a bundle split at every dynamic import) is traced with Node's
 * module hooks (ESM loads) and require.cache (CommonJS) while a real host answers a real turn; a
 * loaded chunk of the bundle counts as the modules its source map lists. Deno has no module hooks,
 * so this runs on Node only.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, writeConfig, type TempDir } from './support/harness.ts';
import { startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';
import { binPath, loopbackConfig, spawnServe } from './support/rpc-client.ts';

/**
 * The zod-free leaves of core/ the forwarder may load: where the config and the host's socket are, the
 * framing's size limit, and (only to start the host) the start lock.
 */
const allowedCore = ['core/file-lock.js', 'core/config/find.js', 'core/config/message-limit.js', 'core/context/make-dir.js', 'core/errors.js', 'core/package-root.js', 'core/state.js'];
const forbiddenPackages = ['zod', 'vscode-jsonrpc', 'openai', 'yaml', 'systeminformation', 'tinypool', 'prom-client', 'node-llama-cpp'];

/** The modules a loaded file holds (as file URLs): itself, or for a chunk of the bundle, every module its source map lists. */
function modulesIn(url: string): string[] {
  if (!url.startsWith('file:')) return [];
  const file = fileURLToPath(url);
  if (!file.startsWith(bundleDir)) return [url];
  if (!existsSync(`${file}.map`)) {
    // No map: rolldown's own runtime helpers (no module of ours or of a package), or a facade chunk
    // that only imports and re-exports another chunk (loaded, and traced, itself).
    if (/^rolldown-runtime-[\w-]+\.c?js$/.test(basename(file))) return [];
    const statements = readFileSync(file, 'utf8').trim().split('\n');
    if (!statements.every((line) => /^(import|export) /.test(line))) throw new Error(`${file} holds code but has no source map`);
    return [];
  }
  const map = JSON.parse(readFileSync(`${file}.map`, 'utf8')) as { sources: string[] };
  return map.sources.map((source) => pathToFileURL(resolve(dirname(file), source)).href);
}
const bundleDir = join(dirname(binPath), '/');

describe.skipIf('Deno' in globalThis)('the mai serve forwarder', () => {
  let server: FakeOpenAIServer;
  let dir: TempDir;
  let config: string;
  const stateDir = () => join(dir.path, 'state');
  beforeAll(async () => {
    server = await startOpenAIServer([{ id: 'alpha', reply: 'hello from the host' }]);
    dir = await tempDir('mai-forwarder-lean-');
    config = await writeConfig(dir.path, loopbackConfig(server.baseURL, 'host: { idleExitMs: 1500 }\n'));
  });
  afterAll(async () => {
    // The host this test started (its log names its pid) ends with the test.
    const logs = existsSync(stateDir()) ? readdirSync(stateDir()).filter((f) => f.startsWith('host-') && f.endsWith('.log')) : [];
    for (const file of logs) {
      for (const match of readFileSync(join(stateDir(), file), 'utf8').matchAll(/host pid (\d+) serves/g)) {
        try {
          process.kill(Number(match[1]), 'SIGKILL');
        } catch {
          // gone already
        }
      }
    }
    await server.close();
    await dir.cleanup();
  });

  /** A `mai serve` forwarder whose loads are traced: its process, and what it loaded once it exited. */
  async function tracedForwarder(name: string) {
    const trace = join(dir.path, `loaded-${name}.txt`);
    const hooks = join(dir.path, `trace-hooks-${name}.mjs`);
    const preload = join(dir.path, `trace-preload-${name}.mjs`);
    await writeFile(hooks, `import { appendFileSync } from 'node:fs';\nexport async function load(url, context, next) { appendFileSync(${JSON.stringify(trace)}, url + '\\n'); return next(url, context); }\n`);
    await writeFile(
      preload,
      `import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';
register(${JSON.stringify(pathToFileURL(hooks).href)});
const cache = createRequire(import.meta.url).cache;
process.on('exit', () => appendFileSync(${JSON.stringify(trace)}, Object.keys(cache).map((file) => pathToFileURL(file).href + '\\n').join('')));
`,
    );
    const mai = spawnServe({
      config,
      framing: 'content-length',
      stateDir: stateDir(),
      env: { MAI_STANDALONE: '0' },
      command: [process.execPath, '--import', pathToFileURL(preload).href, binPath],
    });
    /** What the process loaded, read once it has exited: its modules (file URLs) and the packages among them. */
    const loaded = () => {
      const files = [...new Set(readFileSync(trace, 'utf8').split('\n').filter((url) => url.startsWith('file:')))];
      // The bin is the bundle: what it loaded is read from its chunks' source maps (an empty map would pass nothing below).
      expect(files.filter((url) => fileURLToPath(url).startsWith(bundleDir)).length).toBeGreaterThan(1);
      const modules = [...new Set(files.flatMap(modulesIn))];
      const packages = [...new Set(modules.map((url) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1]).filter((p): p is string => p !== undefined))];
      return { modules, packages };
    };
    return { mai, loaded };
  }

  async function initialize(mai: ReturnType<typeof spawnServe>, client: string) {
    expect((await mai.request('initialize', { clientInfo: { name: client } })).result).toMatchObject({ serverInfo: { name: 'mai' } });
  }

  /** After initialize: a turn answered through the host (its status names this client), shutdown and exit. */
  async function turnAndExit(mai: ReturnType<typeof spawnServe>, client: string) {
    const turn = await mai.request('chat/send', { message: 'Hi', model: 'alpha' });
    expect(turn.error, mai.stderr()).toBeUndefined();
    expect(turn.result).toMatchObject({ text: 'hello from the host' });
    // The host's status names this client: the reply came through the host, not an in-process Mai.
    const status = (await mai.request('status')).result as { clients?: Array<{ name: string }> };
    expect(status.clients?.map((c) => c.name).join(' ')).toContain(client);
    expect((await mai.request('shutdown')).result).toBeNull();
    mai.send({ jsonrpc: '2.0', method: 'exit' });
    expect(await mai.exited).toBe(0);
  }

  it('answers a turn through the host while loading neither zod, the schemas, vscode-jsonrpc nor Mai core', async () => {
    // The first forwarder starts the host; the second, which finds it running (the first still connected),
    // does not even load the start lock (proper-lockfile, and the graceful-fs, retry and signal-exit it runs).
    const first = await tracedForwarder('first');
    await initialize(first.mai, 'lean-test');
    const second = await tracedForwarder('second');
    await initialize(second.mai, 'lean-second');
    await turnAndExit(second.mai, 'lean-second');
    await turnAndExit(first.mai, 'lean-test');

    const [firstLoaded, secondLoaded] = [first.loaded(), second.loaded()];
    for (const { modules: loaded, packages } of [firstLoaded, secondLoaded]) {
      const ours = (url: string) => /\/dist\/(.*)$/.exec(url)?.[1];
      expect(loaded.map(ours)).toContain('rpc/host/forward.js');
      expect(packages.filter((name) => forbiddenPackages.includes(name))).toEqual([]);
      const modules = loaded.map(ours).filter((path): path is string => path !== undefined);
      expect(modules.filter((path) => path.startsWith('core/') && !allowedCore.includes(path))).toEqual([]);
      expect(modules.filter((path) => path.startsWith('plugins/'))).toEqual([]);
      // Nothing of the server: its protocol, schemas, handlers, conformance layer or error mapping.
      const server = ['rpc/mai-protocol.js', 'rpc/handlers.js', 'rpc/dispatcher.js', 'rpc/serve-streams.js', 'rpc/conformance.js', 'rpc/errors.js', 'rpc/client.js', 'rpc/cli/common.js'];
      expect(modules.filter((path) => server.includes(path))).toEqual([]);
    }
    expect(firstLoaded.packages).toContain('proper-lockfile'); // it took the start lock: the trace sees a lazy import
    expect(secondLoaded.packages.filter((name) => ['proper-lockfile', 'graceful-fs', 'retry', 'signal-exit'].includes(name))).toEqual([]);
    expect(secondLoaded.modules.filter((url) => url.endsWith('/dist/core/file-lock.js'))).toEqual([]);
  });
});
