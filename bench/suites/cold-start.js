/**
 * 4. Cold start: from spawning `mai serve` to its reply to `initialize`, against a bare
 * vscode-jsonrpc server process doing the same; and from spawning a one-shot `mai chat` to the
 * first token on its stdout, against a Node process that streams the same answer straight from
 * the server with the `openai` package. Mai and its reference alternate, spawn by spawn. With a
 * baseline (bench/run.js --baseline BIN: another build's bin, e.g. main's) the same three Mai
 * measures are also taken with it, in the same rounds, for an A/B under the same load.
 */
import { spawn } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startLoopbackServer } from '../lib/loopback-server.js';
import { spawnRpc } from '../lib/rpc-pipe.js';
import { benchDir, binPath, maiEnv, tempDir, track, writeBenchConfig } from '../lib/setup.js';
import { ms, p50, plusMs, times } from '../lib/stats.js';

/** The host logs in a state folder (each names its host's pid). @param {string} stateDir */
async function readHostLogs(stateDir) {
  const files = (await readdir(stateDir)).filter((f) => f.startsWith('host-') && f.endsWith('.log'));
  return (await Promise.all(files.map((f) => readFile(join(stateDir, f), 'utf8')))).join('');
}

/** @param {number} pid */
function stop(pid) {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // gone already
  }
}

/**
 * Spawn → reply to initialize, in ms.
 * @param {string[]} args
 * @param {NodeJS.ProcessEnv} env
 * @param {string} cwd
 */
async function toInitialize(args, env, cwd) {
  const pipe = spawnRpc({ command: process.execPath, args, framing: 'content-length', env, cwd });
  const reply = await pipe.request('initialize', { clientInfo: { name: 'mai-bench' } });
  const took = performance.now() - pipe.spawnedAt;
  if (reply.error) throw new Error(`initialize failed: ${reply.error.message}`);
  const code = await pipe.close();
  if (code !== 0) throw new Error(`${args.join(' ')} exited with ${code}: ${pipe.stderr()}`);
  return took;
}

/**
 * Spawn → first byte on stdout, in ms; checks the whole answer came and the exit code is 0.
 * @param {string[]} args
 * @param {NodeJS.ProcessEnv} env
 * @param {string} cwd
 * @param {string} expected
 * @returns {Promise<number>}
 */
export function toFirstToken(args, env, cwd, expected) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = track(spawn(process.execPath, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] }));
    let first = 0;
    let out = '';
    let err = '';
    child.stdout?.on('data', (chunk) => {
      if (first === 0) first = performance.now();
      out += chunk;
    });
    child.stderr?.on('data', (chunk) => (err += chunk));
    child.on('close', (code) => {
      if (code !== 0 || !out.includes(expected)) reject(new Error(`${args.join(' ')} exited with ${code}, printed ${JSON.stringify(out)}: ${err}`));
      else resolve(first - started);
    });
  });
}

/** Smoke: the one spawn of bench/lib/direct-chat.js, shared by the two tables that show it (see directChat). */
/** @type {Promise<number> | undefined} */
let smokeDirectChat;

/**
 * Spawn → first token of bench/lib/direct-chat.js (a Node process streaming the answer with the openai package), the
 * reference of a `mai chat` spawn here and in the shared host's table. A smoke run spawns it once for both (whichever
 * suite asks first, against its server): the same script and arguments, a number that means nothing, ~0.4 CPU-s less.
 * @param {{ baseURL: string, message: string, expected: string, env: NodeJS.ProcessEnv, cwd: string, smoke: boolean }} options
 */
export function directChat({ baseURL, message, expected, env, cwd, smoke }) {
  const spawnIt = () => toFirstToken([join(benchDir, 'lib', 'direct-chat.js'), baseURL, 'bench-model', message], env, cwd, expected);
  return smoke ? (smokeDirectChat ??= spawnIt()) : spawnIt();
}

/**
 * @param {{ smoke: boolean, baseline?: string }} options
 * @returns {Promise<import('../lib/report.js').SuiteResult>}
 */
export async function coldStart({ smoke, baseline }) {
  const began = performance.now();
  const runs = smoke ? 1 : 6;
  const server = await startLoopbackServer({ models: [{ id: 'bench-model' }], replyMs: 20, chunks: 20 });
  const dir = await tempDir();
  try {
    const config = await writeBenchConfig(dir.path, { backends: [{ name: 'loop', baseURL: server.baseURL }], monitor: !smoke });
    const env = maiEnv(dir.path);
    const echo = join(benchDir, 'lib', 'echo-server.js');
    const message = 'Say hello.';
    const expected = `Answer to: ${message}`;
    // The default `mai serve`: a forwarder to the shared host (running: started by the untimed round).
    const hostConfig = join(dir.path, 'host.config.yaml');
    await writeFile(hostConfig, `${await readFile(config, 'utf8')}host: { idleExitMs: 60000 }\n`);
    const hosted = { ...env, MAI_STANDALONE: '0' };
    /** @type {Record<'mai' | 'forwarder' | 'bare' | 'chat' | 'openai' | 'baseMai' | 'baseForwarder' | 'baseChat', number[]>} */
    const t = { mai: [], forwarder: [], bare: [], chat: [], openai: [], baseMai: [], baseForwarder: [], baseChat: [] };
    // One untimed round first: the OS's file cache holds the modules afterwards, as on a used machine.
    // (Smoke: none; the timed forwarder starts the host, the same code, and its number means nothing.)
    if (!smoke) {
      await toInitialize([binPath, 'serve', '--config', hostConfig], hosted, dir.path); // starts the host
      await toInitialize([binPath, 'serve', '--config', config], env, dir.path);
      await toFirstToken([binPath, 'chat', '--config', config, message], env, dir.path, expected);
    }
    for (let i = 0; i < runs; i++) {
      t.mai.push(await toInitialize([binPath, 'serve', '--config', config], env, dir.path));
      t.forwarder.push(await toInitialize([binPath, 'serve', '--config', hostConfig], hosted, dir.path));
      t.bare.push(await toInitialize([echo, 'content-length'], env, dir.path));
      t.chat.push(await toFirstToken([binPath, 'chat', '--config', config, message], env, dir.path, expected));
      t.openai.push(await directChat({ baseURL: server.baseURL, message, expected, env, cwd: dir.path, smoke }));
      if (baseline) {
        t.baseMai.push(await toInitialize([baseline, 'serve', '--config', config], env, dir.path));
        t.baseForwarder.push(await toInitialize([baseline, 'serve', '--config', hostConfig], hosted, dir.path));
        t.baseChat.push(await toFirstToken([baseline, 'chat', '--config', config, message], env, dir.path, expected));
      }
    }
    /** @param {string} measure @param {number[]} ours @param {number[]} theirs @returns {string[]} */
    const against = (measure, ours, theirs) => [measure, ms(p50(ours)), 'baseline build', ms(p50(theirs)), plusMs(p50(ours) - p50(theirs)), times(p50(ours) / p50(theirs))];
    const init = p50(t.mai);
    const forwarded = p50(t.forwarder);
    return {
      id: 'cold-start',
      title: '4. Cold start',
      header: ['measure', 'mai p50', 'reference', 'reference p50', 'difference', 'ratio'],
      rows: [
        ['spawn → initialize reply (--standalone)', ms(init), 'bare vscode-jsonrpc server', ms(p50(t.bare)), plusMs(init - p50(t.bare)), times(init / p50(t.bare))],
        ['spawn → initialize reply (default: forwarder, host running)', ms(forwarded), 'bare vscode-jsonrpc server', ms(p50(t.bare)), plusMs(forwarded - p50(t.bare)), times(forwarded / p50(t.bare))],
        ['spawn → first token (one-shot chat)', ms(p50(t.chat)), 'node + openai package, streaming', ms(p50(t.openai)), plusMs(p50(t.chat) - p50(t.openai)), times(p50(t.chat) / p50(t.openai))],
        ...(baseline
          ? [
              against('--standalone initialize reply', t.mai, t.baseMai),
              against('forwarder initialize reply', t.forwarder, t.baseForwarder),
              against('one-shot chat first token', t.chat, t.baseChat),
            ]
          : []),
      ],
      checks: [
        { name: 'Cold start to the initialize reply (Node, --standalone)', target: '≤ 250 ms', measured: ms(init), pass: init <= 250 },
        { name: 'Cold start to the initialize reply (Node, default mai serve: forwarder, host running)', target: '≤ 250 ms', measured: ms(forwarded), pass: forwarded <= 250 },
      ],
      notes: [
        'The standalone `mai serve` loads zod and the protocol\'s schemas before it answers initialize (Mai itself is built behind the reply); the default `mai serve` is a forwarder that loads neither and gets the reply from the running host.',
        `${runs} spawns of each, alternating${smoke ? '' : ', after one untimed round (warm file cache)'}. \`mai serve\` and \`mai chat\` use the benchmark config: the openai backend on loopback, the default scorers, sampling on.`,
        ...(baseline ? [`Baseline build: ${baseline}, spawned in the same rounds.`] : []),
        'The chat row times `mai chat --config FILE "Say hello."` (Mai and an in-process JSON-RPC link, the catalogue listed, one turn) to its first byte on stdout, against bench/lib/direct-chat.js.',
      ],
      seconds: (performance.now() - began) / 1000,
    };
  } finally {
    for (const match of (await readHostLogs(dir.path)).matchAll(/host pid (\d+) serves/g)) stop(Number(match[1]));
    await server.close();
    await dir.cleanup();
  }
}
