/**
 * 5. Batch: 1,000 prompts piped into `mai batch --concurrency N` at N = 1, 4 and 8, against a
 * server with a known capacity: it serves at most 8 requests at once, each in a fixed time, so it
 * can answer at most 8 / replyMs requests per millisecond. Throughput is the prompts answered per
 * second over the time the server was busy (its first request's start to its last answer's end),
 * shown as a share of that capacity and of what N in flight can reach (min(N, 8) / 8 of it). The
 * output is checked: one line per prompt, in input order, each the answer to its own prompt.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { startLoopbackServer } from '../lib/loopback-server.js';
import { binPath, maiEnv, tempDir, track, writeBenchConfig } from '../lib/setup.js';
import { percent, perSecond } from '../lib/stats.js';

const SLOTS = 8;
const REPLY_MS = 20;

/**
 * Runs `mai batch` to completion; resolves with its stdout and the wall time.
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
      if (code !== 0) reject(new Error(`mai batch exited with ${code}: ${stderr.slice(-2000)}`));
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
  const count = smoke ? 16 : 1_000;
  const server = await startLoopbackServer({ models: [{ id: 'bench-model' }], replyMs: REPLY_MS, chunks: 4, capacity: SLOTS });
  const capacity = (SLOTS / REPLY_MS) * 1000;
  const dir = await tempDir();
  /** @type {string[][]} */
  const rows = [];
  /** @type {import('../lib/report.js').Check[]} */
  const checks = [];
  try {
    const config = await writeBenchConfig(dir.path, { backends: [{ name: 'loop', baseURL: server.baseURL }], monitor: true });
    const input = Array.from({ length: count }, (_, i) => `prompt ${i + 1}`).join('\n');
    for (const concurrency of [1, 4, 8]) {
      server.resetStats();
      const { stdout, wallMs } = await runBatch([binPath, 'batch', '--concurrency', String(concurrency), '--config', config], input, maiEnv(dir.path), dir.path);
      checkOrder(stdout, count);
      const { served, firstStartAt, lastEndAt, maxConcurrent } = server.stats;
      if (served !== count) throw new Error(`the server answered ${served} requests for ${count} prompts`);
      const rate = (count / (lastEndAt - firstStartAt)) * 1000;
      const reachable = Math.min(concurrency, SLOTS) / SLOTS;
      rows.push([
        String(concurrency),
        perSecond(rate),
        percent(rate / capacity),
        percent(rate / (capacity * reachable)),
        perSecond((count / wallMs) * 1000),
        String(maxConcurrent),
        'yes',
      ]);
      if (concurrency === 8) checks.push({ name: 'Batch throughput at concurrency 8, share of capacity', target: '≥ 90%', measured: percent(rate / capacity), pass: rate / capacity >= 0.9 });
    }
  } finally {
    await server.close();
    await dir.cleanup();
  }
  return {
    id: 'batch',
    title: `5. Batch (${count.toLocaleString('en-US')} prompts; server: ${SLOTS} at once × ${REPLY_MS} ms = ${perSecond(capacity)})`,
    header: ['concurrency', 'throughput', 'share of capacity', `share of min(N, ${SLOTS})/${SLOTS} of it`, 'incl. start-up (wall)', 'most requests at once at the server', 'output in order'],
    rows,
    checks,
    notes: [
      `The server (in the benchmark's process) answers each request in ${REPLY_MS} ms, 4 chunks, at most ${SLOTS} at once, more waiting their turn: capacity ${perSecond(capacity)}. Throughput counts from the server's first request to its last answer; "incl. start-up" is prompts over the whole \`mai batch\` run, spawn to exit.`,
      'Each output line is checked: one per prompt, in input order, the answer to its own prompt.',
    ],
    seconds: (performance.now() - began) / 1000,
  };
}
