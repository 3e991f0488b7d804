/**
 * 7. The shared host (rpc/host/): a warm `mai chat` (host running) from spawn to its first token
 * against the same spawn doing a direct `openai` call; the added time of a turn through a
 * `mai serve` forwarder and the host against an in-process `mai serve`, turn by turn (the median
 * of the differences of turns taken back to back, so the load of the moment is in both); and the
 * memory (RSS) of three `mai serve` clients answering with one GGUF model through one host
 * against one in-process client.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DEMO_MODELS, ensureDemoModels, writeDemoModel } from '../../scripts/gguf/index.js';
import { startLoopbackServer } from '../lib/loopback-server.js';
import { cpuMs } from '../lib/processes.js';
import { spawnRpc } from '../lib/rpc-pipe.js';
import { binPath, maiEnv, tempDir, writeBenchConfig } from '../lib/setup.js';
import { medianInterval, ms, p50, plusMs, times } from '../lib/stats.js';
import { directChat, toFirstToken } from './cold-start.js';

/** How long the idle `mai serve` processes' CPU is measured. */
const IDLE_MS = 5_000;

/** RSS of a process in bytes (from /proc). @param {number} pid */
function rss(pid) {
  const line = execFileSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' }).trim();
  return Number(line) * 1024;
}

/**
 * Private memory (USS: Private_Clean + Private_Dirty from /proc/PID/smaps_rollup) in bytes: what
 * the machine gets back when the process exits. RSS also counts the pages every Node process
 * shares (the node binary's code: a bare idle `node` has ~39 MiB RSS, ~8 MiB of it private), so a
 * sum of RSS counts the runtime once per process though it is in memory once.
 * @param {number} pid
 */
function privateBytes(pid) {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kib = (/** @type {string} */ field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? 0);
  return (kib('Private_Clean') + kib('Private_Dirty')) * 1024;
}

/** Waits (at most 5 s) until a process is gone. @param {number | undefined} pid */
async function gone(pid) {
  for (let i = 0; pid !== undefined && i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The pid of the host alive now, from the logs in the state folder. @param {string} stateDir */
function hostPid(stateDir) {
  const out = execFileSync('sh', ['-c', `cat "${stateDir}"/host-*.log 2>/dev/null || true`], { encoding: 'utf8' });
  const found = [...out.matchAll(/host pid (\d+) serves/g)].map((m) => Number(m[1]));
  return found.filter((pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }).at(-1);
}

/**
 * Waits until a Mai is settled — the models it holds (status `loaded`) the same for 600 ms, at most 15 s —
 * so that both sides of the memory comparison are measured in the same state: after a turn Mai preloads
 * the fallback model while idle (the demo's other model, ~20 MiB with its context), which an in-process
 * client measured at its reply had not finished and the host, three turns later, had.
 * @param {import('../lib/rpc-pipe.js').RpcPipe} pipe
 */
async function settled(pipe) {
  const until = performance.now() + 15_000;
  let last = '';
  let since = performance.now();
  while (performance.now() < until) {
    const status = await pipe.request('status', {});
    const result = /** @type {{ loaded?: Array<{ model: string }> } | undefined} */ (status.result);
    const loaded = JSON.stringify((result?.loaded ?? []).map((l) => l.model).sort());
    if (loaded !== last) {
      last = loaded;
      since = performance.now();
    } else if (performance.now() - since >= 600) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** @param {number | undefined} pid */
function kill(pid) {
  if (pid === undefined) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // gone already
  }
}

/**
 * @param {{ smoke: boolean }} options
 * @returns {Promise<import('../lib/report.js').SuiteResult>}
 */
export async function host({ smoke }) {
  const began = performance.now();
  const server = await startLoopbackServer({ models: [{ id: 'bench-model' }], replyMs: 20, chunks: 20 });
  const dir = await tempDir();
  const hosted = { ...maiEnv(dir.path), MAI_STANDALONE: '0' };
  const standalone = maiEnv(dir.path);
  try {
    const yaml = await writeBenchConfig(dir.path, { backends: [{ name: 'loop', baseURL: server.baseURL }], monitor: !smoke });
    const config = join(dir.path, 'host.config.yaml');
    const { readFile } = await import('node:fs/promises');
    await writeFile(config, `${await readFile(yaml, 'utf8')}host: { idleExitMs: 20000 }\n`);
    const message = 'Say hello.';
    const expected = `Answer to: ${message}`;

    // 1. warm `mai chat`: the first call starts the host, the timed ones reuse it.
    const chatArgs = [binPath, 'chat', '--config', config, message];
    // (smoke: the timed call starts the host; the forwarder below finds it running)
    if (!smoke) await toFirstToken(chatArgs, hosted, dir.path, expected);
    // (smoke: the timed direct call is its only one: it has no host to start, and its number means nothing)
    if (!smoke) await directChat({ baseURL: server.baseURL, message, expected, env: standalone, cwd: dir.path, smoke });
    const runs = smoke ? 1 : 10;
    /** @type {{ chat: number[], openai: number[] }} */
    const spawns = { chat: [], openai: [] };
    for (let i = 0; i < runs; i++) {
      spawns.chat.push(await toFirstToken(chatArgs, hosted, dir.path, expected));
      // (smoke: the cold-start suite's spawn, or this suite's if it asks first)
      spawns.openai.push(await directChat({ baseURL: server.baseURL, message, expected, env: standalone, cwd: dir.path, smoke }));
    }

    // 2. a turn through forwarder + host against in-process `mai serve`, alternating turn by turn.
    const serveArgs = [binPath, 'serve', '--config', config];
    const viaHost = spawnRpc({ command: process.execPath, args: serveArgs, framing: 'content-length', env: hosted, cwd: dir.path });
    const inProcess = spawnRpc({ command: process.execPath, args: serveArgs, framing: 'content-length', env: standalone, cwd: dir.path });
    const turns = smoke ? 1 : 400;
    const warm = smoke ? 0 : 40;
    /** @type {{ host: number[], alone: number[] }} */
    const turn = { host: [], alone: [] };
    /** Per pair of turns taken back to back: the host path's time minus the in-process one's. */
    /** @type {number[]} */
    const pairs = [];
    const one = async (/** @type {typeof viaHost} */ pipe) => {
      const t0 = performance.now();
      const reply = await pipe.request('chat/send', { message, model: 'bench-model' });
      if (reply.error) throw new Error(`chat/send failed: ${reply.error.message}`);
      return performance.now() - t0;
    };
    /** CPU per turn (ms) of the forwarder, the host and the in-process server, over the timed turns. */
    const cpuPids = { forwarder: viaHost.child.pid ?? 0, host: hostPid(dir.path) ?? 0, alone: inProcess.child.pid ?? 0 };
    /** @type {Record<string, number>} */
    let cpuAt = {};
    for (let i = 0; i < warm + turns; i++) {
      if (i === warm) cpuAt = Object.fromEntries(Object.entries(cpuPids).map(([k, pid]) => [k, cpuMs(pid)]));
      const order = i % 2 === 0 ? /** @type {const} */ (['host', 'alone']) : /** @type {const} */ (['alone', 'host']);
      /** @type {Record<string, number>} */
      const took = {};
      for (const path of order) took[path] = await one(path === 'host' ? viaHost : inProcess);
      if (i < warm) continue;
      turn.host.push(took.host ?? 0);
      turn.alone.push(took.alone ?? 0);
      pairs.push((took.host ?? 0) - (took.alone ?? 0));
    }
    const cpuTurn = Object.fromEntries(Object.entries(cpuPids).map(([k, pid]) => [k, (cpuMs(pid) - (cpuAt[k] ?? 0)) / turns]));
    // Smoke: the in-process `mai serve` that just answered a loopback turn is section 3's reference client (measured
    // the same way, and its numbers mean nothing): one such process less. (GGUF in process is test/demo.test.ts's, and
    // the host's GGUF load is section 3's path: a second node-llama-cpp load is ~2.3 CPU-s.)
    const smokeReference = smoke ? { bytes: rss(inProcess.child.pid ?? 0), private: privateBytes(inProcess.child.pid ?? 0) } : undefined;
    // Idle: both `mai serve` processes, once the client has been quiet past their fast probing pace (rpc/client-gone.ts: 5 s), CPU a second over IDLE_MS.
    /** @type {{ forwarder: number, alone: number } | undefined} */
    let idleCpu;
    if (!smoke) {
      await new Promise((resolve) => setTimeout(resolve, 6_000));
      const at = { forwarder: cpuMs(cpuPids.forwarder), alone: cpuMs(cpuPids.alone) };
      await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
      idleCpu = { forwarder: ((cpuMs(cpuPids.forwarder) - at.forwarder) * 1000) / IDLE_MS, alone: ((cpuMs(cpuPids.alone) - at.alone) * 1000) / IDLE_MS };
    }
    await viaHost.close();
    await inProcess.close();
    kill(hostPid(dir.path));

    // 3. memory: three clients on one GGUF model through one host, against one in-process client
    // (smoke: one client, which runs the same path: a forwarder, the host loading the model, a turn).
    const clientCount = smoke ? 1 : 3;
    const three = clientCount === 3 ? 'three' : String(clientCount);
    const models = join(dir.path, 'models');
    await mkdir(models, { recursive: true });
    // Smoke: the small demo model alone (the one asked for), no preload of a fallback model (loaded
    // in the host and again in the in-process client) and a short answer: the same processes,
    // paths and turns with less llama.cpp work.
    if (smoke) await writeDemoModel(models, /** @type {(typeof DEMO_MODELS)[number]} */ (DEMO_MODELS.find((m) => m.id === 'mai-demo-small')));
    else await ensureDemoModels(models);
    const gguf = join(dir.path, 'gguf.config.yaml');
    const smokeOnly = smoke ? 'switching: { preload: false }\n' : '';
    await writeFile(gguf, `backends:\n  - use: gguf\n    options: { folders: [./models], threads: 1 }\nmonitor: { enabled: false }\ncontext: { stateDir: ./state, summary: digest }\nhost: { idleExitMs: 20000 }\n${smokeOnly}`);
    const ggufArgs = [binPath, 'serve', '--config', gguf];
    const ask = { message: 'Hello', model: 'mai-demo-small', ...(smoke ? { maxTokens: 8 } : {}) };
    /** One in-process `mai serve` answering a GGUF turn: its RSS and private bytes. */
    const inProcessClient = async () => {
      const alone = spawnRpc({ command: process.execPath, args: ggufArgs, framing: 'content-length', env: standalone, cwd: dir.path });
      const aloneReply = await alone.request('chat/send', ask);
      if (aloneReply.error) throw new Error(`GGUF chat/send in process failed: ${aloneReply.error.message}`);
      await settled(alone);
      const measured = { bytes: rss(alone.child.pid ?? 0), private: privateBytes(alone.child.pid ?? 0) };
      await alone.close();
      return measured;
    };
    const clients = [];
    for (let i = 0; i < clientCount; i++) {
      const pipe = spawnRpc({ command: process.execPath, args: ggufArgs, framing: 'content-length', env: hosted, cwd: dir.path });
      const reply = await pipe.request('chat/send', ask);
      if (reply.error) throw new Error(`GGUF chat/send via the host failed: ${reply.error.message}`);
      clients.push(pipe);
    }
    if (!smoke && clients[0]) await settled(clients[0]);
    const ggufHost = hostPid(dir.path);
    const hostBytes = ggufHost ? rss(ggufHost) : 0;
    const forwarderBytes = clients.reduce((sum, c) => sum + rss(c.child.pid ?? 0), 0);
    const sharedBytes = hostBytes + forwarderBytes;
    const hostPrivate = ggufHost ? privateBytes(ggufHost) : 0;
    const forwarderPrivate = clients.map((c) => privateBytes(c.child.pid ?? 0));
    const sharedPrivate = hostPrivate + forwarderPrivate.reduce((sum, b) => sum + b, 0);
    for (const c of clients) await c.close();
    kill(ggufHost);
    await gone(ggufHost);
    // Measured, the in-process client runs alone (the host gone), so no page of the model file is shared with it.
    const { bytes: aloneBytes, private: alonePrivate } = smokeReference ?? (await inProcessClient());

    const chat = p50(spawns.chat);
    const openai = p50(spawns.openai);
    const overhead = medianInterval(pairs);
    const added = overhead.median;
    const ofMedians = p50(turn.host) - p50(turn.alone);
    const mib = (/** @type {number} */ b) => `${(b / 1024 / 1024).toFixed(0)} MiB`;
    const memoryRatio = sharedBytes / aloneBytes;
    const hostRatio = hostBytes / aloneBytes;
    const privateRatio = sharedPrivate / alonePrivate;
    return {
      id: 'host',
      title: '7. The shared host',
      header: ['measure', 'through the host', 'reference', 'reference figure', 'difference', 'ratio'],
      rows: [
        ['spawn → first token, warm `mai chat`', ms(chat), 'node + openai package, streaming', ms(openai), plusMs(chat - openai), times(chat / openai)],
        ['turn p50 (mai serve → host)', ms(p50(turn.host)), 'in-process mai serve', ms(p50(turn.alone)), plusMs(ofMedians), times(p50(turn.host) / p50(turn.alone))],
        ['added per turn, p50 of paired differences (95 % interval)', plusMs(added), 'the turn just before or after, in process', `${plusMs(overhead.low)} … ${plusMs(overhead.high)}`, plusMs(added), '—'],
        [`CPU per turn, forwarder (${ms(cpuTurn.forwarder ?? 0)}) + host`, ms((cpuTurn.forwarder ?? 0) + (cpuTurn.host ?? 0)), 'in-process mai serve', ms(cpuTurn.alone ?? 0), plusMs((cpuTurn.forwarder ?? 0) + (cpuTurn.host ?? 0) - (cpuTurn.alone ?? 0)), times(((cpuTurn.forwarder ?? 0) + (cpuTurn.host ?? 0)) / (cpuTurn.alone ?? 1))],
        ['CPU a second of an idle `mai serve` forwarder', idleCpu ? `${idleCpu.forwarder.toFixed(2)} ms` : '—', 'in-process mai serve, idle (its monitor samples every 2 s)', idleCpu ? `${idleCpu.alone.toFixed(2)} ms` : '—', idleCpu ? plusMs(idleCpu.forwarder - idleCpu.alone) : '—', '—'],
        [`RSS of the host serving ${three} GGUF clients`, mib(hostBytes), 'one in-process client', mib(aloneBytes), mib(hostBytes - aloneBytes), times(hostRatio)],
        [`RSS, host + ${three} forwarders`, mib(sharedBytes), `one in-process client (${three}: ${clientCount}×)`, mib(aloneBytes), mib(sharedBytes - aloneBytes), times(memoryRatio)],
        [`private memory (USS), host + ${three} forwarders`, mib(sharedPrivate), 'one in-process client', mib(alonePrivate), mib(sharedPrivate - alonePrivate), times(privateRatio)],
        ['private memory (USS) of one forwarder', mib(p50(forwarderPrivate)), 'one in-process client', mib(alonePrivate), mib(p50(forwarderPrivate) - alonePrivate), times(p50(forwarderPrivate) / alonePrivate)],
      ],
      checks: [
        { name: 'Warm mai chat spawn → first token vs direct openai spawn', target: '≤ 1.3×', measured: times(chat / openai), pass: chat / openai <= 1.3 },
        { name: 'Turn overhead, forwarder + host vs in-process mai serve, p50', target: '≤ +0.3 ms', measured: `${plusMs(added)} (95 %: ${plusMs(overhead.low)} … ${plusMs(overhead.high)})`, pass: added <= 0.3 },
        { name: 'Memory of the host serving three GGUF clients vs one in-process client', target: '≈ 1× (≤ 1.2×)', measured: times(hostRatio), pass: hostRatio <= 1.2 },
        { name: 'Memory (private, USS) of host + three forwarders vs one in-process client', target: '≈ 1× (≤ 1.5×)', measured: times(privateRatio), pass: privateRatio <= 1.5 },
      ],
      notes: [
        `${runs} warm \`mai chat --config FILE "Say hello."\` spawns alternating with bench/lib/direct-chat.js, after one untimed call that starts the host.`,
        `${turns} turns per path after ${warm} warm-up turns, in pairs taken back to back (host first in one pair, in process first in the next); both \`mai serve\` processes use the same config (openai backend on loopback, 20 ms answer in 20 chunks, sampling on) and each turn starts a new conversation, one through its host.`,
        `Turn overhead: the median over the ${turns} pairs of (host turn − in-process turn), so a load that changes from second to second is in both turns of a pair; the interval is the distribution-free 95 % interval of that median (order statistics at n/2 ∓ 0.98·√n). The row above it is the difference of the two paths' own p50s (${plusMs(ofMedians)}), which such load shifts move apart.`,
        'CPU per turn: each process\'s time on a CPU over the timed turns (the sum of its threads\' /proc/PID/task/TID/schedstat), divided by the turns.',
        `Idle CPU: both \`mai serve\` processes after the turns, ${IDLE_MS / 1000} s measured once their client has been quiet 6 s (they probe their stdout and stderr sockets for a client gone every 250 ms while it is active, every 2 s after 5 s of quiet: rpc/client-gone.ts); schedstat, as above.`,
        'RSS: the host, and the host plus three `mai serve` forwarders, each client having answered one turn with the 2 MB demo GGUF model, against one in-process `mai serve` that did the same (ps rss). A forwarder is a Node process (its RSS is mostly the runtime\'s own); the model is held once, by the host.',
        'Private memory (USS, /proc/PID/smaps_rollup Private_Clean + Private_Dirty) is what each process alone costs the machine: RSS also counts the pages all Node processes share (the node binary, ~30 MiB), once per process, though they are in memory once. The memory check is on USS; the in-process client is measured after the host has exited.',
      ],
      seconds: (performance.now() - began) / 1000,
    };
  } finally {
    kill(hostPid(dir.path));
    await server.close();
    await dir.cleanup();
  }
}
