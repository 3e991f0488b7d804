/**
 * 7. Observability: what the per-turn ledger costs a turn (two `mai serve`, ledger on and off,
 * taking turns request by request against the same loopback server), and how long `mai stats`
 * takes on a ledger of 100,000 turns (the `stats` method of a running `mai serve`, and the
 * computation alone in this process).
 */
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startLoopbackServer } from '../lib/loopback-server.js';
import { spawnLoopbackServer } from '../lib/processes.js';
import { spawnRpc } from '../lib/rpc-pipe.js';
import { binPath, maiEnv, repoRoot, tempDir, writeBenchConfig } from '../lib/setup.js';
import { ms, p50, p99, plusMs } from '../lib/stats.js';

const MODEL = 'bench-model';
const LINES = 100_000;

/**
 * One ledger line as Mai writes it (core/ledger/record.ts), with a realistic ranking and attempt.
 * @param {number} i
 * @param {number} now
 */
function ledgerLine(i, now) {
  const model = i % 4 === 0 ? 'llama3.2-3b' : 'qwen2.5-7b';
  const failed = i % 50 === 0;
  const attempts = failed
    ? [{ model: 'qwen2.5-7b', backend: 'ollama', ok: false, error: 'timeout', queueMs: 0.04 }, { model: 'llama3.2-3b', backend: 'lmstudio', ok: true, queueMs: 0.03, ttftMs: 95.2, ms: 640.1, tokensPerSecond: 61.7 }]
    : [{ model, backend: model === 'qwen2.5-7b' ? 'ollama' : 'lmstudio', ok: true, queueMs: (i % 7) * 0.5, ttftMs: 80 + (i % 300), ms: 700 + (i % 900), tokensPerSecond: 30 + (i % 40) }];
  const answered = failed ? 'llama3.2-3b' : model;
  const t = now - Math.floor((i / LINES) * 20 * 3_600_000) - 1;
  const scores = { 'resource-fit': 0.9, 'context-fit': 1, capability: 1, reliability: 0.98, latency: 0.61 };
  return JSON.stringify({
    t,
    v: 1,
    outcome: 'ok',
    model: answered,
    attempts,
    fallbacks: failed ? [{ from: 'qwen2.5-7b', to: 'llama3.2-3b' }] : [],
    switch: null,
    up: ['ollama', 'lmstudio'],
    down: [],
    turn: `3f1c9a2e-7b4d-4e8a-9c1f-${String(i).padStart(12, '0')}`,
    at: new Date(t).toISOString(),
    client: 'nvim',
    conversation: `c-${i % 500}`,
    chosen: { model: 'qwen2.5-7b', backend: 'ollama', reason: 'current: stays (no challenger beats it by the margin)' },
    ranking: [
      { model: 'qwen2.5-7b', score: 0.912, fits: true, scores },
      { model: 'llama3.2-3b', score: 0.804, fits: true, scores },
      { model: 'qwen2.5-14b', score: 0, fits: false, scores: { ...scores, 'resource-fit': 0 }, vetoes: ['resource-fit: needs 10.2 GiB, 6.1 GiB free'] },
    ],
    queueMs: 0.04,
    loadMs: 0,
    ttftMs: 120.5,
    ms: 910.3,
    tokens: { in: 230, out: 41 },
    tokensPerSecond: 41.3,
    context: { used: 230, window: 32768 },
    compressed: null,
  });
}

/**
 * CPU time (ms) a process has used, from /proc (null where there is none).
 * @param {number | undefined} pid
 */
async function cpuMs(pid) {
  try {
    const fields = ((await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1] ?? '').split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime, in ticks of 1/100 s
    return Number.isFinite(ticks) ? (ticks * 1000) / 100 : null;
  } catch {
    return null;
  }
}

/**
 * @param {import('../lib/rpc-pipe.js').RpcPipe} mai
 */
async function turn(mai) {
  const started = performance.now();
  const reply = await mai.request('chat/send', { message: 'Say hello.' });
  const elapsed = performance.now() - started;
  if (reply.error) throw new Error(`mai chat/send failed: ${reply.error.message}\n${mai.stderr()}`);
  return elapsed;
}

/**
 * @param {{ smoke: boolean }} options
 * @returns {Promise<import('../lib/report.js').SuiteResult>}
 */
export async function observability({ smoke }) {
  const began = performance.now();
  // Smoke: one turn on each Mai, no warm-up, and a small ledger read once: the same code, the least work.
  const iterations = smoke ? 1 : 300;
  const warmup = smoke ? 0 : 30;
  // Measured: the loopback server in its own process, so the benchmark's own work never delays its timers. Smoke: in
  // this process (the same server; the overhead suite runs it spawned), one process start less.
  const serverOptions = { models: [{ id: MODEL }], replyMs: 20, chunks: 20 };
  const server = smoke ? await startLoopbackServer(serverOptions) : await spawnLoopbackServer(serverOptions);
  const on = await tempDir();
  const off = await tempDir();
  /** @type {import('../lib/rpc-pipe.js').RpcPipe[]} */
  const running = [];
  try {
    /** @param {string} dir @param {boolean} ledger */
    const start = async (dir, ledger) => {
      const config = await writeBenchConfig(dir, { backends: [{ name: 'loop', baseURL: server.baseURL }] });
      await appendFile(config, `ledger: { enabled: ${ledger} }\n`);
      const mai = spawnRpc({ command: process.execPath, args: [binPath, 'serve', '--config', config], framing: 'ndjson', env: maiEnv(dir), cwd: dir });
      running.push(mai);
      const init = await mai.request('initialize', { clientInfo: { name: 'mai-bench' } });
      if (init.error) throw new Error(`mai initialize failed: ${init.error.message}`);
      return mai;
    };
    const withLedger = await start(on.path, true);
    const without = await start(off.path, false);
    for (let i = 0; i < warmup; i++) {
      await turn(withLedger);
      await turn(without);
    }
    /** @type {number[]} */
    const onTimes = [];
    /** @type {number[]} */
    const offTimes = [];
    const cpuBefore = [await cpuMs(withLedger.child.pid), await cpuMs(without.child.pid)];
    for (let i = 0; i < iterations; i++) {
      // Alternate who goes first, so neither always follows the other.
      if (i % 2 === 0) {
        onTimes.push(await turn(withLedger));
        offTimes.push(await turn(without));
      } else {
        offTimes.push(await turn(without));
        onTimes.push(await turn(withLedger));
      }
    }
    const added = p50(onTimes) - p50(offTimes);
    const cpuAfter = [await cpuMs(withLedger.child.pid), await cpuMs(without.child.pid)];
    /** CPU ms per turn of each mai serve over the measured turns (its batches of ledger lines included). */
    const perTurn = cpuBefore.map((before, i) => {
      const after = cpuAfter[i];
      return before === null || after === null || after === undefined ? null : (after - before) / iterations;
    });
    const [cpuOn = null, cpuOff = null] = perTurn;
    const paired = p50(onTimes.map((t, i) => t - (offTimes[i] ?? t)));

    // `mai stats` on 100,000 lines: in the state directory of the Mai with the ledger on (its own turns are in it too).
    const lines = smoke ? 200 : LINES;
    const now = Date.now();
    const ledgerDir = join(on.path, 'state', 'ledger');
    await mkdir(ledgerDir, { recursive: true });
    // As Mai writes it: each ledger line with its stats line in the stats file beside it.
    const { statsLine } = await import(join(repoRoot, 'dist', 'core', 'ledger', 'stats-line.js'));
    const ledgerLines = Array.from({ length: lines }, (_, i) => ledgerLine(lines - 1 - i, now));
    const text = `${ledgerLines.join('\n')}\n`;
    await writeFile(join(ledgerDir, 'ledger.1.jsonl'), text);
    await writeFile(join(ledgerDir, 'ledger.1.stats'), `${ledgerLines.map((l) => statsLine(JSON.parse(l), Buffer.byteLength(l) + 1)).join('\n')}\n`);
    const rounds = smoke ? 1 : 5;
    /** @type {number[]} */
    const viaMethod = [];
    let counted = 0;
    for (let i = 0; i < rounds; i++) {
      const started = performance.now();
      const reply = await withLedger.request('stats', { since: '24h' });
      viaMethod.push(performance.now() - started);
      if (reply.error) throw new Error(`stats failed: ${reply.error.message}`);
      counted = /** @type {{ turns: { total: number } }} */ (reply.result).turns.total;
    }
    if (counted < lines) throw new Error(`stats counted ${counted} turns, expected at least ${lines}`);
    const { computeStats } = await import(join(repoRoot, 'dist', 'core', 'ledger', 'stats.js'));
    /** @type {number[]} */
    const inProcess = [];
    /** @type {number[]} */
    const cpu = [];
    for (let i = 0; i < rounds; i++) {
      const started = performance.now();
      const used = process.cpuUsage();
      const report = await computeStats({ dir: ledgerDir, maxFiles: 5, since: now - 86_400_000 });
      const spent = process.cpuUsage(used);
      inProcess.push(performance.now() - started);
      cpu.push((spent.user + spent.system) / 1000);
      if (report.ledger.fromStatsFiles !== report.ledger.files) throw new Error(`stats did not read every stats file: ${JSON.stringify(report.ledger)}`);
    }
    // The fallback: the same ledger without its stats file (written by an older Mai, or the stats file damaged).
    const bare = await tempDir();
    /** @type {number[]} */
    const fromLedger = [];
    /** @type {number[]} */
    const fromLedgerCpu = [];
    try {
      await writeFile(join(bare.path, 'ledger.1.jsonl'), text);
      for (let i = 0; i < rounds; i++) {
        const started = performance.now();
        const used = process.cpuUsage();
        await computeStats({ dir: bare.path, maxFiles: 5, since: now - 86_400_000 });
        const spent = process.cpuUsage(used);
        fromLedger.push(performance.now() - started);
        fromLedgerCpu.push((spent.user + spent.system) / 1000);
      }
    } finally {
      await bare.cleanup();
    }
    const statsP50 = p50(viaMethod);
    return {
      id: 'observability',
      title: '8. Observability: the ledger per turn, `mai stats` on 100,000 turns',
      header: ['measure', 'p50', 'p99 / max', 'reference', 'difference'],
      rows: [
        ['turn, ledger on (mai serve, 20 ms answer)', ms(p50(onTimes)), ms(p99(onTimes)), `ledger off ${ms(p50(offTimes))}`, plusMs(added)],
        ['the same, median of the turn-by-turn differences (on − off)', plusMs(paired), '—', '—', '—'],
        ['CPU time of mai serve per turn, ledger on', cpuOn === null ? '—' : ms(cpuOn), '—', `ledger off ${cpuOff === null ? '—' : ms(cpuOff)}`, cpuOn === null || cpuOff === null ? '—' : plusMs(cpuOn - cpuOff)],
        [`stats method, ${lines.toLocaleString('en-US')} ledger lines (${(Buffer.byteLength(text) / 1024 / 1024).toFixed(0)} MiB)`, ms(statsP50), ms(Math.max(...viaMethod)), '—', '—'],
        ['the same computation in this process (computeStats)', ms(p50(inProcess)), ms(Math.max(...inProcess)), `CPU time p50 ${ms(p50(cpu))}`, '—'],
        ['the same without the stats file (the ledger parsed, the fallback)', ms(p50(fromLedger)), ms(Math.max(...fromLedger)), `CPU time p50 ${ms(p50(fromLedgerCpu))}`, `stats file ${(p50(fromLedgerCpu) / p50(cpu)).toFixed(1)}× less CPU`],
      ],
      checks: [
        { name: 'Per-turn overhead of the ledger, p50 (on − off)', target: '≤ 0.1 ms', measured: plusMs(added), pass: added <= 0.1 },
        { name: `mai stats on ${lines.toLocaleString('en-US')} ledger lines (stats method, p50)`, target: '≤ 1 s', measured: ms(statsP50), pass: statsP50 <= 1000 },
      ],
      notes: [
        `${iterations} turns on each of two \`mai serve\` (ledger.enabled true and false, each its own state directory) after ${warmup} warm-up turns each, alternating request by request and who goes first; the loopback server sends 20 chunks over 20 ms. The metrics count turns in both; only the ledger differs. Ended turns are handed to the ledger in batches once a second (core/observe/turn-observer.ts), off every reply's path.`,
        `The ledger of the stats rows is ${lines.toLocaleString('en-US')} lines written as Mai writes them (3 ranked models with 5 scorer scores each, one or two attempts) with the stats file beside it (core/ledger/stats-line.ts), spread over the last 20 hours, read with --since 24h; ${rounds} rounds each. The stats method includes the JSON-RPC round trip and the reply. The last row reads the ledger alone (what stats does when the stats file is missing or damaged).`,
      ],
      seconds: (performance.now() - began) / 1000,
    };
  } finally {
    for (const mai of running) await mai.close();
    await server.close();
    await on.cleanup();
    await off.cleanup();
  }
}
