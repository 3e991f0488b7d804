/**
 * 2. Protocol throughput: small pipelined `status` requests per second through `mai serve`,
 * against a bare vscode-jsonrpc server over the same kind of pipes answering the same status
 * object (bench/lib/echo-server.js), in both framings. Both are driven by the same client, with
 * the same number of requests in flight, in alternating rounds.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startLoopbackServer } from '../lib/loopback-server.js';
import { spawnRpc } from '../lib/rpc-pipe.js';
import { benchDir, binPath, maiEnv, sleep, tempDir, writeBenchConfig } from '../lib/setup.js';
import { p50, perSecond, times } from '../lib/stats.js';

const IN_FLIGHT = 64;

/** @param {unknown} status */
const hasNoSample = (status) => Boolean(/** @type {{ resources?: { unavailable?: string[] } }} */ (status).resources?.unavailable);

/**
 * Sends `count` status requests keeping IN_FLIGHT outstanding; resolves with the milliseconds taken.
 * @param {import('../lib/rpc-pipe.js').RpcPipe} pipe
 * @param {number} count
 * @returns {Promise<number>}
 */
function pipelined(pipe, count) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let sent = 0;
    let done = 0;
    /** @param {import('../lib/rpc-pipe.js').RpcReply} reply */
    const onReply = (reply) => {
      if (reply.error) return reject(new Error(`status failed: ${reply.error.message}\n${pipe.stderr()}`));
      done++;
      if (done === count) resolve(performance.now() - started);
      else pump();
    };
    const pump = () => {
      while (sent < count && sent - done < IN_FLIGHT) {
        sent++;
        pipe.request('status').then(onReply, reject);
      }
    };
    pump();
  });
}

/**
 * @param {{ smoke: boolean }} options
 * @returns {Promise<import('../lib/report.js').SuiteResult>}
 */
export async function throughput({ smoke }) {
  const began = performance.now();
  const rounds = smoke ? 1 : 12;
  const perRound = smoke ? 100 : 8_000;
  const warmup = smoke ? 20 : 3_000;
  const server = await startLoopbackServer({ models: [{ id: 'bench-model' }], replyMs: 20, chunks: 4 });
  const dir = await tempDir();
  // Measured: sampling on, as users' Mai runs, and status answered from a sample. Smoke: sampling off (the sampler's
  // worker costs each of the two processes ~0.2 CPU-s; the monitor suite runs it) and status from the OS's counters:
  // the same status handler, the same pipelined requests.
  const config = await writeBenchConfig(dir.path, { backends: [{ name: 'loop', baseURL: server.baseURL }], monitor: !smoke });
  /** @type {string[][]} */
  const rows = [];
  /** @type {import('../lib/report.js').Check[]} */
  const checks = [];
  try {
    for (const framing of /** @type {const} */ (['content-length', 'ndjson'])) {
      const mai = spawnRpc({ command: process.execPath, args: [binPath, 'serve', '--config', config], framing, env: maiEnv(dir.path), cwd: dir.path });
      // Steady state: until its first resource sample is in, Mai answers status from the OS's counters.
      let first = await mai.request('status');
      for (const deadline = Date.now() + 10_000; !smoke && !first.error && hasNoSample(first.result) && Date.now() < deadline; ) {
        await sleep(50);
        first = await mai.request('status');
      }
      if (first.error) throw new Error(`mai status failed: ${first.error.message}\n${mai.stderr()}`);
      const echo = spawnRpc({
        command: process.execPath,
        args: [join(benchDir, 'lib', 'echo-server.js'), framing],
        framing,
        env: { ...process.env, ECHO_REPLY: JSON.stringify(first.result) },
      });
      try {
        await pipelined(mai, warmup);
        await pipelined(echo, warmup);
        /** @type {number[]} */
        const maiMs = [];
        /** @type {number[]} */
        const echoMs = [];
        for (let round = 0; round < rounds; round++) {
          // Alternate who goes first (ABBA…), so a drift in the machine's load hits both alike.
          if (round % 2 === 0) {
            maiMs.push(await pipelined(mai, perRound));
            echoMs.push(await pipelined(echo, perRound));
          } else {
            echoMs.push(await pipelined(echo, perRound));
            maiMs.push(await pipelined(mai, perRound));
          }
        }
        // Each round's ratio compares two runs a moment apart; the median ratio shrugs off a burst of load.
        const ratio = p50(maiMs.map((m, i) => /** @type {number} */ (echoMs[i]) / m));
        const maiRate = (perRound / p50(maiMs)) * 1000;
        const echoRate = (perRound / p50(echoMs)) * 1000;
        rows.push([framing, perSecond(maiRate), perSecond(echoRate), times(ratio), `${((p50(maiMs) / perRound) * 1000).toFixed(1)} µs`, `${((p50(echoMs) / perRound) * 1000).toFixed(1)} µs`]);
        checks.push({ name: `Protocol throughput vs bare vscode-jsonrpc (${framing})`, target: '≥ 0.80×', measured: times(ratio), pass: ratio >= 0.8 });
      } finally {
        await mai.close();
        await echo.close();
      }
    }
  } finally {
    await server.close();
    await dir.cleanup();
  }
  return {
    id: 'throughput',
    title: '2. Protocol throughput (pipelined `status`)',
    header: ['framing', 'mai serve', 'bare vscode-jsonrpc', 'ratio (median of rounds)', 'mai per request', 'bare per request'],
    rows,
    checks,
    notes: [
      `${rounds} alternating rounds of ${perRound.toLocaleString('en-US')} requests per server and framing, ${IN_FLIGHT} in flight, after ${warmup.toLocaleString('en-US')} warm-up requests; one client (bench/lib/rpc-pipe.js) drives both over the child's stdin/stdout. Rates are the median round's; the ratio is the median of the rounds' ratios (each Mai round against the bare round next to it).`,
      'The bare server answers every request with the status object Mai answered first, so both send the same bytes; Mai also validates params, checks the lifecycle and reads its catalogue and monitor for each status.',
    ],
    seconds: (performance.now() - began) / 1000,
  };
}
