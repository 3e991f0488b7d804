/**
 * 5. Batch: 1,000 prompts piped into `mai batch --concurrency N` at N = 1, 4 and 8, against a
 * server with a known capacity: it serves at most 8 requests at once, each in a fixed time, so it
 * can answer at most 8 / replyMs requests per millisecond. Throughput is the prompts answered per
 * second over the time the server was busy (its first request's start to its last answer's end),
 * shown as a share of that capacity and of what N in flight can reach (min(N, 8) / 8 of it); the
 * same prompts sent 8 at a time with the openai package alone show what one Node client reaches
 * here. With Mai's default config (no parallelPerModel), Mai reads the server's slots from its
 * llama.cpp /props. Two equal replicas of the model (two such servers) against one, at -j 16. The
 * output is checked: one line per prompt, in input order, each the answer to its own prompt.
 */
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startLoopbackServer } from '../lib/loopback-server.js';
import { benchDir, binPath, maiEnv, tempDir, track, writeBenchConfig } from '../lib/setup.js';
import { percent, perSecond, times } from '../lib/stats.js';

const SLOTS = 8;
const REPLY_MS = 40;
/** The replicas are smaller and slower, so that the servers, not this machine's CPU, bound throughput. */
const REPLICA_SLOTS = 2;
const REPLICA_REPLY_MS = 400;

/**
 * Runs a batch process to completion; resolves with its stdout and the wall time.
 * @param {string[]} args
 * @param {string} input
 * @param {NodeJS.ProcessEnv} env
 * @param {string} cwd
 * @returns {Promise<{ stdout: string, wallMs: number }>}
 */
function runBatch(args, input, env, cwd) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = track(spawn(process.execPath, args, { env, cwd, stdio: ['pipe', 'pipe', 'pipe'] }));
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk) => (stdout += chunk));
    child.stderr?.on('data', (chunk) => (stderr += chunk));
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`${args.slice(0, 2).join(' ')} exited with ${code}: ${stderr.slice(-2000)}`));
      else resolve({ stdout, wallMs: performance.now() - started });
    });
    child.stdin?.end(input);
  });
}

/**
 * Throws unless every prompt has its answer, in input order.
 * @param {string} stdout
 * @param {number} count
 */
function checkOrder(stdout, count) {
  const lines = stdout.trim().split('\n');
  if (lines.length !== count) throw new Error(`mai batch printed ${lines.length} lines for ${count} prompts`);
  lines.forEach((line, index) => {
    const result = JSON.parse(line);
    const n = index + 1;
    if (result.error) throw new Error(`prompt ${n} failed: ${result.error.message}`);
    if (result.id !== n || !String(result.text).startsWith(`Answer to: prompt ${n}.`)) {
      throw new Error(`line ${n} is out of order: id ${result.id}, text ${JSON.stringify(result.text)}`);
    }
  });
}

/**
 * @param {{ smoke: boolean }} options
 * @returns {Promise<import('../lib/report.js').SuiteResult>}
 */
export async function batch({ smoke }) {
  const began = performance.now();
  const count = smoke ? 8 : 1_000;
  const defaultCount = count;
  // llama.cpp-like: /props says its slots (Mai's default config reads them), /metrics its load.
  const server = await startLoopbackServer({ models: [{ id: 'bench-model' }], replyMs: REPLY_MS, chunks: 4, capacity: SLOTS, llamaCpp: true });
  const replicaCount = smoke ? 8 : 100;
  const replicaServer = () => startLoopbackServer({ models: [{ id: 'bench-model' }], replyMs: REPLICA_REPLY_MS, chunks: 4, capacity: REPLICA_SLOTS, llamaCpp: true });
  const r1 = await replicaServer();
  const r2 = await replicaServer();
  const replicas = [r1, r2];
  const capacity = (SLOTS / REPLY_MS) * 1000;
  const dir = await tempDir();
  /** @type {string[][]} */
  const rows = [];
  /** @type {import('../lib/report.js').Check[]} */
  const checks = [];
  /** @type {number} */
  let vsDirect;
  try {
    const backends = [{ name: 'loop', baseURL: server.baseURL }];
    // Configured for this server (it serves 8 at once), and Mai's default (one turn per model at once).
    const tuned = await writeBenchConfig(dir.path, { backends, monitor: !smoke, parallelPerModel: SLOTS, name: 'parallel.yaml' });
    const defaults = await writeBenchConfig(dir.path, { backends, monitor: !smoke, name: 'default.yaml', llamaCpp: true });
    // The replica runs keep their state (conversations, ledger) in a folder of their own: a smoke
    // run runs them beside the others.
    const replicaDir = join(dir.path, 'replicas');
    await mkdir(replicaDir);
    const oneReplica = await writeBenchConfig(replicaDir, { backends: [{ name: 'r1', baseURL: r1.baseURL }], monitor: !smoke, name: 'one-replica.yaml', llamaCpp: true });
    const twoReplicas = await writeBenchConfig(replicaDir, {
      backends: replicas.map((r, i) => ({ name: `r${i + 1}`, baseURL: r.baseURL })),
      monitor: !smoke,
      name: 'two-replicas.yaml',
      llamaCpp: true,
    });
    /** @param {number} concurrency @param {string} config */
    const mai = (concurrency, config) => [binPath, 'batch', '--concurrency', String(concurrency), '--config', config];
    const direct = [join(benchDir, 'lib', 'direct-batch.js'), server.baseURL, 'bench-model', String(SLOTS)];
    /** @type {Array<{ concurrency: number, args: string[], label: string, prompts: number, kind: string, servers?: Array<import('../lib/loopback-server.js').LoopbackServer> }>} */
    const runs = [
      // Smoke: -j 1 and -j 4 are -j 8's code with another number (each a `mai batch` launch), so
      // only -j 8 runs; test/cli-batch.test.ts checks their order and concurrency.
      ...(smoke
        ? []
        : [
            { concurrency: 1, args: mai(1, tuned), label: 'mai batch -j 1', prompts: count, kind: 'tuned' },
            { concurrency: 4, args: mai(4, tuned), label: 'mai batch -j 4', prompts: count, kind: 'tuned' },
          ]),
      { concurrency: 8, args: mai(8, tuned), label: 'mai batch -j 8', prompts: count, kind: 'tuned' },
      { concurrency: 8, args: mai(8, defaults), label: 'mai batch -j 8, default config (slots read from /props)', prompts: defaultCount, kind: 'default' },
      { concurrency: 8, args: direct, label: 'openai package, 8 at a time (no Mai)', prompts: count, kind: 'direct' },
      { concurrency: 8, args: mai(8, oneReplica), label: `mai batch -j 8, default config, one replica (${REPLICA_SLOTS} slots × ${REPLICA_REPLY_MS} ms)`, prompts: replicaCount, kind: 'one-replica', servers: [r1] },
      { concurrency: 8, args: mai(8, twoReplicas), label: 'mai batch -j 8, default config, two such replicas', prompts: replicaCount, kind: 'two-replicas', servers: replicas },
    ];
    /** @type {Record<string, number>} */
    const rates = {};
    /** @type {Map<(typeof runs)[number], string[]>} */
    const rowOf = new Map();
    /** @param {(typeof runs)[number]} run */
    const measure = async (run) => {
      const { concurrency, args, label, prompts, kind, servers = [server] } = run;
      const input = Array.from({ length: prompts }, (_, i) => `prompt ${i + 1}`).join('\n');
      for (const s of servers) s.resetStats();
      const home = run.servers ? replicaDir : dir.path;
      const { stdout, wallMs } = await runBatch(args, input, maiEnv(home), home);
      checkOrder(stdout, prompts);
      const used = servers.filter((s) => s.stats.served > 0);
      const served = servers.reduce((n, s) => n + s.stats.served, 0);
      const firstStartAt = Math.min(...used.map((s) => s.stats.firstStartAt));
      const lastEndAt = Math.max(...used.map((s) => s.stats.lastEndAt));
      if (served !== prompts) throw new Error(`the servers answered ${served} requests for ${prompts} prompts`);
      const rate = (prompts / (lastEndAt - firstStartAt)) * 1000;
      rates[kind] = rate;
      const slots = servers === replicas || servers[0] === r1 ? REPLICA_SLOTS : SLOTS;
      const own = servers === replicas || servers[0] === r1 ? (REPLICA_SLOTS / REPLICA_REPLY_MS) * 1000 * servers.length : capacity;
      const reachable = Math.min(concurrency, slots * servers.length) / (slots * servers.length);
      rowOf.set(run, [
        label,
        prompts.toLocaleString('en-US'),
        perSecond(rate),
        percent(rate / own),
        percent(rate / (own * reachable)),
        perSecond((prompts / wallMs) * 1000),
        servers.map((s) => String(s.stats.maxConcurrent)).join(' + '),
        'yes',
      ]);
      if (concurrency === 8 && kind !== 'direct' && servers.length === 1 && servers[0] === server) {
        const which = kind === 'tuned' ? `fallback.parallelPerModel ${SLOTS}` : 'the default config';
        checks.push({ name: `Batch throughput at concurrency 8 (${which}), share of capacity`, target: '≥ 90%', measured: percent(rate / capacity), pass: rate / capacity >= 0.9 });
      }
    };
    /** @param {typeof runs} list */
    const inTurn = async (list) => {
      for (const run of list) await measure(run);
    };
    // Measured, one run at a time. A smoke run (numbers that mean nothing) runs the replica rows, on
    // servers of their own, beside the rest: every run still has its servers to itself.
    const replicaRuns = runs.filter((r) => r.servers);
    if (smoke) {
      // Both to their end before the servers and the folder go; then the first failure, if any.
      const settled = await Promise.allSettled([inTurn(runs.filter((r) => !r.servers)), inTurn(replicaRuns)]);
      for (const outcome of settled) if (outcome.status === 'rejected') throw outcome.reason;
    } else await inTurn(runs);
    for (const run of runs) rows.push(/** @type {string[]} */ (rowOf.get(run)));
    vsDirect = /** @type {number} */ (rates.tuned) / /** @type {number} */ (rates.direct);
    const spread = /** @type {number} */ (rates['two-replicas']) / /** @type {number} */ (rates['one-replica']);
    checks.push({ name: 'Two equal replicas (default config) vs one, throughput', target: '≥ 1.8×', measured: times(spread), pass: spread >= 1.8 });
  } finally {
    await Promise.all(replicas.map((r) => r.close()));
    await server.close();
    await dir.cleanup();
  }
  return {
    id: 'batch',
    title: `5. Batch (${count.toLocaleString('en-US')} prompts; server: ${SLOTS} at once × ${REPLY_MS} ms = ${perSecond(capacity)})`,
    header: ['run', 'prompts', 'throughput', 'share of capacity', 'share of what N at once can reach', 'incl. start-up (wall)', 'most requests at once at the server', 'output in order'],
    rows,
    checks,
    notes: [
      `The server (in the benchmark's process) answers each request in ${REPLY_MS} ms, 4 chunks, at most ${SLOTS} at once, more waiting their turn: capacity ${perSecond(capacity)}. Throughput counts from the server's first request to its last answer; "incl. start-up" is prompts over the whole \`mai batch\` run, spawn to exit.`,
      `The tuned rows set fallback.parallelPerModel: ${SLOTS}, what this server serves at once. The default-config rows set nothing: the server says its ${SLOTS} slots in llama.cpp's GET /props (total_slots), and Mai's load probe reads them (and /metrics) off the turn path; the load scorer is on, as in Mai's default config.`,
      `Replicas: two servers of ${REPLICA_SLOTS} slots × ${REPLICA_REPLY_MS} ms (${perSecond((REPLICA_SLOTS / REPLICA_REPLY_MS) * 1000)} each; small, so that the servers and not this machine's CPU bound the run) list the same model; Mai routes each turn to the least-loaded one. ${replicaCount} prompts at -j 8: one replica is capped by its ${REPLICA_SLOTS} slots, two share the batch. Their share of capacity counts both servers; the most-at-once column shows each server.`,
      `The "openai package" row is what a plain Node client reaches on this machine: bench/lib/direct-batch.js streams the same prompts with the openai package, 8 at a time. Mai at concurrency 8 reached ${times(vsDirect)} of it (Mai streams its chat requests over node:http, not through the package, at less CPU per request, so it can pass it).`,
      'Each output line is checked: one per prompt, in input order, the answer to its own prompt.',
    ],
    seconds: (performance.now() - began) / 1000,
  };
}
