#!/usr/bin/env node
/**
 * A/B of builds, turn by turn, for the per-turn overhead (bench/suites/overhead.js and host.js):
 * each build runs `mai serve` through its shared host (a forwarder) and in process (--standalone),
 * next to a direct `openai` call, against one loopback server (its own process, 20 ms answers in
 * 20 chunks); every turn of every path takes its turn in a rotating order, so all share the noise.
 * Reports per round the p50 of each path, its difference to the direct call and (the forwarder's)
 * to the same build in process — as the difference of the two p50s and as the median of the
 * differences turn by turn (the host path's i-th turn minus the in-process path's i-th, taken in the
 * same rotation, with its 95 % interval, as bench/suites/host.js reports it) — and the CPU each process used per turn (the sum of its threads'
 * /proc/PID/task/TID/schedstat: time on a CPU, in ns); then the median of the rounds' differences.
 *
 *   node bench/ab.js --build new=dist/bundle/mai.js --build main=BIN [--rounds 3] [--turns 100] [--no-progress]
 *
 * BIN is another build's `mai` bin (e.g. main's, built in its own checkout, as run.js --baseline).
 *
 * Each build gets its own state folder and XDG_RUNTIME_DIR, so its forwarder reaches its own host.
 * Linux only (schedstat). Turns carry a progressToken (the answer streams as $/progress) unless
 * --no-progress (bench/suites/host.js sends none).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import OpenAI from 'openai';
import { cpuMs, spawnLoopbackServer } from './lib/processes.js';
import { spawnRpc } from './lib/rpc-pipe.js';
import { maiEnv, tempDir, writeBenchConfig } from './lib/setup.js';
import { medianInterval, p50 } from './lib/stats.js';

const { values } = parseArgs({
  options: {
    build: { type: 'string', multiple: true },
    rounds: { type: 'string', default: '3' },
    turns: { type: 'string', default: '100' },
    warmup: { type: 'string', default: '30' },
    'no-progress': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});
if (values.help || !values.build?.length) {
  process.stdout.write('Usage: node bench/ab.js --build LABEL=BIN [--build LABEL=BIN…] [--rounds N] [--turns N] [--warmup N] [--no-progress]\n');
  process.exit(values.help ? 0 : 2);
}
const rounds = Number(values.rounds);
const turns = Number(values.turns);
const warmup = Number(values.warmup);
const progress = !values['no-progress'];
const MESSAGE = 'Say hello.';

/**
 * @typedef {object} Path
 * @property {string} name
 * @property {() => Promise<number>} turn one turn: its time from request to result (ms)
 * @property {Record<string, number>} pids the processes whose CPU is counted
 * @property {number[]} times
 * @property {Record<string, number>} cpu0
 */

const server = await spawnLoopbackServer({ models: [{ id: 'bench-model' }], replyMs: 20, chunks: 20 });
const direct = new OpenAI({ baseURL: server.baseURL, apiKey: 'bench', maxRetries: 0 });
/** @type {Path[]} */
const paths = [
  {
    name: 'direct',
    pids: {},
    times: [],
    cpu0: {},
    async turn() {
      const started = performance.now();
      const stream = await direct.chat.completions.create({ model: 'bench-model', messages: [{ role: 'user', content: MESSAGE }], stream: true, max_tokens: 512 });
      for await (const chunk of stream) void chunk;
      return performance.now() - started;
    },
  },
];
const dirs = [];
/** @type {Array<import('./lib/rpc-pipe.js').RpcPipe>} */
const pipes = [];
/** @type {number[]} */
const hosts = [];
let tokens = 0;
try {
  for (const spec of values.build) {
    const [label, path] = /** @type {[string, string]} */ (spec.split('='));
    const bin = resolve(path ?? '');
    if (!path || !existsSync(bin)) throw new Error(`no ${bin}: --build LABEL=BIN names a built mai bin (dist/bundle/mai.js)`);
    const dir = await tempDir();
    dirs.push(dir);
    const yaml = await writeBenchConfig(dir.path, { backends: [{ name: 'loop', baseURL: server.baseURL }], monitor: true });
    const config = join(dir.path, 'host.config.yaml');
    writeFileSync(config, `${readFileSync(yaml, 'utf8')}host: { idleExitMs: 60000 }\n`);
    const env = { ...maiEnv(dir.path), XDG_RUNTIME_DIR: dir.path };
    const args = [bin, 'serve', '--config', config];
    const viaHost = spawnRpc({ command: process.execPath, args, framing: 'content-length', env: { ...env, MAI_STANDALONE: '0' }, cwd: dir.path });
    const inProcess = spawnRpc({ command: process.execPath, args, framing: 'content-length', env, cwd: dir.path });
    for (const pipe of [viaHost, inProcess]) {
      pipes.push(pipe);
      const init = await pipe.request('initialize', { clientInfo: { name: 'bench-ab' } });
      if (init.error) throw new Error(`${label}: initialize failed: ${init.error.message}\n${pipe.stderr()}`);
      pipe.notify('initialized', {});
    }
    const log = readdirSync(dir.path).filter((f) => f.startsWith('host-') && f.endsWith('.log')).map((f) => readFileSync(join(dir.path, f), 'utf8')).join('');
    const hostPid = Number(/host pid (\d+) serves/.exec(log)?.[1]);
    if (!hostPid) throw new Error(`${label}: no host pid in its log`);
    hosts.push(hostPid);
    /** @param {import('./lib/rpc-pipe.js').RpcPipe} pipe */
    const turnOf = (pipe) => async () => {
      const token = `ab-${++tokens}`;
      const started = performance.now();
      const reply = await pipe.request('chat/send', { message: MESSAGE, model: 'bench-model', ...(progress ? { progressToken: token } : {}) });
      const took = performance.now() - started;
      if (reply.error) throw new Error(`${label}: chat/send failed: ${reply.error.message}\n${pipe.stderr()}`);
      return took;
    };
    paths.push({ name: `${label} via host`, pids: { forwarder: viaHost.child.pid ?? 0, host: hostPid }, times: [], cpu0: {}, turn: turnOf(viaHost) });
    paths.push({ name: `${label} in process`, pids: { serve: inProcess.child.pid ?? 0 }, times: [], cpu0: {}, turn: turnOf(inProcess) });
  }

  const f = (/** @type {number} */ x) => `${x >= 0 ? '+' : ''}${x.toFixed(2)}`;
  for (let i = 0; i < warmup; i++) for (const path of paths) await path.turn();
  /** @type {Record<string, number[]>} */
  const differences = {};
  const note = (/** @type {string} */ key, /** @type {number} */ value) => (differences[key] ??= []).push(value);
  for (let round = 1; round <= rounds; round++) {
    const loadBefore = loadavg()[0] ?? 0;
    for (const path of paths) {
      path.times = [];
      path.cpu0 = Object.fromEntries(Object.entries(path.pids).map(([k, pid]) => [k, cpuMs(pid)]));
    }
    for (let i = 0; i < turns; i++) {
      for (let k = 0; k < paths.length; k++) {
        const path = /** @type {Path} */ (paths[(i + k) % paths.length]);
        path.times.push(await path.turn());
      }
    }
    process.stdout.write(`round ${round}: ${turns} turns a path, load ${loadBefore.toFixed(1)} → ${(loadavg()[0] ?? 0).toFixed(1)}\n`);
    const base = p50(/** @type {Path} */ (paths[0]).times);
    for (const [index, path] of paths.entries()) {
      const cpu = Object.entries(path.pids)
        .map(([k, pid]) => `${k} ${((cpuMs(pid) - (path.cpu0[k] ?? 0)) / turns).toFixed(2)} ms`)
        .join(', ');
      const mine = p50(path.times);
      let line = `  ${path.name.padEnd(22)} p50 ${mine.toFixed(2)} ms`;
      if (index > 0) {
        line += `  vs direct ${f(mine - base)} ms`;
        note(`${path.name} vs direct`, mine - base);
      }
      const alone = path.name.endsWith(' via host') ? paths[index + 1] : undefined;
      if (alone) {
        const paired = medianInterval(path.times.map((t, i) => t - (alone.times[i] ?? 0)));
        line += `  vs in process ${f(mine - p50(alone.times))} ms (paired ${f(paired.median)} ms, 95 % ${f(paired.low)}…${f(paired.high)})`;
        note(`${path.name} vs in process`, mine - p50(alone.times));
        note(`${path.name} vs in process, paired`, paired.median);
      }
      process.stdout.write(`${line}${cpu ? `  CPU per turn: ${cpu}` : ''}\n`);
    }
  }
  process.stdout.write(`median of ${rounds} rounds' p50 differences${progress ? ' (turns streamed as $/progress)' : ''}:\n`);
  for (const [key, list] of Object.entries(differences)) process.stdout.write(`  ${key.padEnd(36)} ${f(p50(list))} ms  (rounds: ${list.map(f).join(', ')})\n`);
} finally {
  for (const pipe of pipes) await pipe.close();
  for (const pid of hosts) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // gone already
    }
  }
  await server.close();
  await new Promise((done) => setTimeout(done, 300));
  for (const dir of dirs) await dir.cleanup();
}
