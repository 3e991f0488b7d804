/**
 * `mai stats` against a ledger the test writes by hand, with figures chosen so every expected
 * number is known: the CLI (and the `stats` method behind it) reads both files of the ledger,
 * keeps the window, skips a corrupt line, and reports per model and per backend. The CLI runs its
 * `main` in this process (cli-in-process.ts) and the method is asked over `mai serve`'s server
 * stack linked in process (rpc-link.ts): what is tested is the figures and their report, not a
 * process (the spawned binary's commands, exit codes and pipes: cli-commands.test.ts).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LedgerRecord } from '../core/ledger/record.ts';
import { computeStats, percentile } from '../core/ledger/stats.ts';
import type { StatsReport } from '../core/ledger/stats.ts';
import type { AttemptSummary } from '../core/observe/turn-summary.ts';
import { tempDir, writeConfig, type TempDir } from './support/harness.ts';
import { closedPort } from './support/openai-server.ts';
import { runCliInProcess } from './support/cli-in-process.ts';
import { loopbackConfig } from './support/rpc-client.ts';
import { linkServe } from './support/rpc-link.ts';

const now = Date.now();
const MIN = 60_000;

function line(minutesAgo: number, fields: Partial<LedgerRecord> & { attempts: AttemptSummary[] }): LedgerRecord {
  const t = now - minutesAgo * MIN;
  const answering = fields.attempts.findLast((a) => a.ok);
  // In the order Mai writes (what stats reads first); `key order` below checks another order too.
  const record: LedgerRecord = {
    t,
    v: 1,
    outcome: answering ? 'ok' : 'failed',
    model: answering?.model ?? null,
    attempts: fields.attempts,
    fallbacks: [],
    switch: null,
    up: ['a', 'b'],
    down: [],
    turn: `turn-${t}`,
    at: new Date(t).toISOString(),
    conversation: 'c1',
    chosen: { model: fields.attempts[0]!.model, backend: fields.attempts[0]!.backend, reason: 'best' },
    ranking: [],
    queueMs: 0,
    loadMs: 0,
    ttftMs: answering?.ttftMs ?? null,
    ms: 100,
    tokens: null,
    tokensPerSecond: null,
    context: null,
    compressed: null,
  };
  return Object.assign(record, fields);
}

const ok = (model: string, backend: string, ttftMs: number, tokensPerSecond: number, queueMs: number): AttemptSummary => ({ model, backend, ok: true, ttftMs, tokensPerSecond, queueMs, ms: 200 });
const fail = (model: string, backend: string, error: string): AttemptSummary => ({ model, backend, ok: false, error, queueMs: 0 });

/** Within the last hour: 5 turns of big (4 answered, 1 fell back to small after an unreachable backend a), 2 of small, 1 cancelled. */
const recent: LedgerRecord[] = [
  line(55, { attempts: [ok('big', 'a', 100, 10, 1)] }),
  line(52, { attempts: [ok('big', 'a', 200, 20, 2)] }),
  line(45, { attempts: [ok('big', 'a', 300, 30, 3)] }),
  line(42, { attempts: [ok('big', 'a', 400, 40, 4)] }),
  line(35, { attempts: [fail('big', 'a', 'unreachable'), ok('small', 'b', 50, 100, 5)], fallbacks: [{ from: 'big', to: 'small' }], switch: { from: 'big', to: 'small' }, up: ['b'], down: ['a'] }),
  line(25, { attempts: [ok('small', 'b', 70, 120, 6)], down: ['a'], up: ['b'] }),
  line(5, { outcome: 'cancelled', attempts: [{ model: 'small', backend: 'b', ok: false, error: 'cancelled', queueMs: 7 }] }),
];
/** Older than an hour: counted by --since 24h only. */
const old: LedgerRecord[] = [line(180, { attempts: [ok('big', 'a', 1000, 5, 0)] }), line(170, { attempts: [fail('big', 'a', 'timeout'), fail('small', 'b', 'server-error')] })];

describe('mai stats', () => {
  let dir: TempDir;
  let config: string;
  let stateDir: string;

  beforeAll(async () => {
    dir = await tempDir('mai-stats-');
    stateDir = join(dir.path, 'state');
    const ledger = join(stateDir, 'ledger');
    await mkdir(ledger, { recursive: true });
    const jsonl = (records: LedgerRecord[]) => records.map((r) => JSON.stringify(r)).join('\n') + '\n';
    // The rotated file holds the older turns; the current one the recent, one corrupt line among them.
    // The first line with its keys in another order (`turn` before `outcome`): read whole.
    const [first, ...others] = old;
    const { t, turn, ...rest } = first!;
    await writeFile(join(ledger, 'ledger.1.jsonl'), `${JSON.stringify({ t, turn, ...rest })}\n${jsonl([...others, ...recent.slice(0, 2)])}`);
    await writeFile(join(ledger, 'ledger.jsonl'), `${jsonl(recent.slice(2, 4))}{"t":${now - 25 * MIN},"v":1,"outcome":"ok","cut off by a cra\n${jsonl(recent.slice(4))}`);
    config = await writeConfig(dir.path, loopbackConfig(`http://127.0.0.1:${await closedPort()}/v1`));
  });
  afterAll(async () => dir.cleanup());

  async function stats(...args: string[]): Promise<StatsReport> {
    const run = await runCliInProcess(['stats', '--config', config, '--json', ...args], { stateDir });
    expect(run.code, run.stderr).toBe(0);
    return JSON.parse(run.stdout) as StatsReport;
  }
  /** The last hour in 6 slices: one CLI run read by the per-model and the per-backend cases (the slices change only the latter). */
  let lastHour: Promise<StatsReport> | undefined;
  const lastHourReport = () => (lastHour ??= stats('--since', '1h', '--buckets', '6'));

  it('--since 1h: per model turns, failure rate, fallbacks, first token p50/p95, tokens/s, queue wait', async () => {
    const s = await lastHourReport();
    expect(s.turns).toEqual({ total: 7, ok: 6, failed: 0, cancelled: 1, fallbacks: 1, switches: 1 });
    expect(s.ledger).toMatchObject({ files: 2, lines: 7, unreadable: 1 });
    const big = s.models.find((m) => m.model === 'big')!;
    expect(big).toEqual({
      model: 'big',
      backend: 'a',
      turns: 5,
      answered: 4,
      attempts: 5,
      failures: 1,
      failureRate: 0.2,
      fallbacksFrom: 1,
      fallbacksTo: 0,
      ttftMs: { p50: 200, p95: 400 }, // nearest rank of 100, 200, 300, 400
      tokensPerSecondP50: 20,
      queueWaitMsP50: 2, // nearest rank of 0 (the failed attempt), 1, 2, 3, 4
    });
    const small = s.models.find((m) => m.model === 'small')!;
    expect(small).toEqual({
      model: 'small',
      backend: 'b',
      turns: 3,
      answered: 2,
      attempts: 2, // the cancelled attempt is neither a success nor a failure
      failures: 0,
      failureRate: 0,
      fallbacksFrom: 0,
      fallbacksTo: 1,
      ttftMs: { p50: 50, p95: 70 },
      tokensPerSecondP50: 100,
      queueWaitMsP50: 6, // 5, 6, 7
    });
  });

  it('per backend reachability over the window, in slices', async () => {
    const s = await lastHourReport();
    const a = s.backends.find((b) => b.backend === 'a')!;
    // Slices of 10 min: a is up at 55, 52, 45, 42 and 5 min ago; down at 35 (its attempt was refused) and 25.
    expect(a.turns).toBe(7);
    expect(a.reachable).toBeCloseTo(5 / 7, 4);
    expect(a.buckets.map((b) => b.reachable)).toEqual([1, 1, 0, 0, null, 1]);
    expect(a.buckets.map((b) => b.turns)).toEqual([2, 2, 1, 1, 0, 1]);
    expect(s.backends.find((b) => b.backend === 'b')!.reachable).toBe(1);
  });

  it('the default window (24h) counts the older turns too', async () => {
    const s = await stats();
    expect(s.turns.total).toBe(9);
    expect(s.turns.failed).toBe(1);
    const big = s.models.find((m) => m.model === 'big')!;
    expect(big).toMatchObject({ turns: 7, answered: 5, attempts: 7, failures: 2 });
    expect(big.ttftMs).toEqual({ p50: 300, p95: 1000 });
  });

  it('prints a table for people, and refuses a window it cannot read', async () => {
    const run = await runCliInProcess(['stats', '--config', config, '--since', '1h'], { stateDir });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^7 turns in the last 1h .*6 ok · 0 failed · 1 cancelled · 1 fallbacks · 1 switches/);
    expect(run.stdout).toMatch(/^big\s+a\s+5\s+4\s+20% \(1\/5\)\s+1 \/ 0\s+200 ms \/ 400 ms\s+20\.0\s+2 ms$/m);
    expect(run.stdout).toMatch(/^a\s+71% of 7 turns\s+[█▄_·]{12}$/m);
    const bad = await runCliInProcess(['stats', '--config', config, '--since', 'yesterday'], { stateDir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--since "yesterday" is not a window/);
  });

  it('the stats method over mai serve, and its params checked', async () => {
    const mai = linkServe({ config, framing: 'ndjson' });
    try {
      const reply = await mai.request('stats', { since: '1h' });
      expect((reply.result as StatsReport).turns.total).toBe(7);
      const bad = await mai.request('stats', { since: 'soon' });
      expect(bad.error).toMatchObject({ code: -32602 });
      expect(bad.error!.message).toMatch(/since/);
    } finally {
      await mai.stop();
    }
  });

  it('reads 20,000 lines (the bench times 100,000; here only that all are counted)', async () => {
    const big = await tempDir('mai-stats-big-');
    try {
      const ledger = join(big.path, 'ledger');
      await mkdir(ledger);
      // Line i depends on i only modulo 3,000 (the lcm of 50, 3 and 1,000): each distinct line is built once.
      const distinct = Array.from({ length: 3_000 }, (_, i) => JSON.stringify(line(1 + (i % 50), { attempts: [ok(i % 3 ? 'big' : 'small', 'a', i % 1000, 10, 0)] })));
      const text = Array.from({ length: 20_000 }, (_, i) => distinct[i % 3_000]!).join('\n');
      await writeFile(join(ledger, 'ledger.jsonl'), `${text}\n`);
      const s = await computeStats({ dir: ledger, maxFiles: 5, since: now - 3_600_000 });
      expect(s.turns.total).toBe(20_000);
      expect(s.models.reduce((n, m) => n + m.answered, 0)).toBe(20_000);
    } finally {
      await big.cleanup();
    }
  });

  it('percentile is nearest-rank', () => {
    expect(percentile([], 0.5)).toBeNull();
    expect(percentile([5], 0.95)).toBe(5);
    expect(percentile([4, 1, 3, 2], 0.5)).toBe(2);
    expect(percentile([4, 1, 3, 2], 0.95)).toBe(4);
  });
});
