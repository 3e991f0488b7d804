/**
 * `mai stats`: per model and per backend over a window, read from the ledger files (through the
 * compact stats files beside them where those are whole: stats-read.ts) — so the figures cover
 * every Mai process that shares the state directory and survive restarts. Percentiles are nearest-rank.
 */
import type { StatsInput } from './stats-line.ts';
import { readTurns, StatsFileDistrusted } from './stats-read.ts';

export interface ModelStats {
  model: string;
  backend: string;
  /** Turns that tried this model at least once. */
  turns: number;
  /** Turns this model answered. */
  answered: number;
  /** Attempts on it that ended (a cancelled one is neither a success nor a failure). */
  attempts: number;
  failures: number;
  /** failures / attempts (null without attempts). */
  failureRate: number | null;
  /** Turns that moved off this model to another, and turns it took over from another. */
  fallbacksFrom: number;
  fallbacksTo: number;
  ttftMs: { p50: number; p95: number } | null;
  tokensPerSecondP50: number | null;
  queueWaitMsP50: number | null;
}

export interface BackendStats {
  backend: string;
  /** Turns that saw this backend (listed by the catalogue or tried). */
  turns: number;
  /** Share of those turns it was reachable in (null when no turn saw it). */
  reachable: number | null;
  /** The same, per slice of the window, oldest first. */
  buckets: Array<{ at: string; turns: number; reachable: number | null }>;
}

export interface StatsReport {
  since: string;
  until: string;
  bucketMs: number;
  /** `fromStatsFiles`: of the files read, those read through the stats file beside them (core/ledger/stats-line.ts). */
  ledger: { dir: string; files: number; lines: number; unreadable: number; fromStatsFiles: number };
  turns: { total: number; ok: number; failed: number; cancelled: number; fallbacks: number; switches: number };
  models: ModelStats[];
  backends: BackendStats[];
}

export interface StatsOptions {
  dir: string;
  maxFiles: number;
  since: number;
  until?: number;
  buckets?: number;
}

/** Nearest-rank percentile of unsorted values (null for none). */
export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
}

interface ModelAcc {
  stats: ModelStats;
  ttft: number[];
  tps: number[];
  queue: number[];
}

const round = (n: number | null, places = 2) => (n === null ? null : Math.round(n * 10 ** places) / 10 ** places);

export async function computeStats(options: StatsOptions): Promise<StatsReport> {
  const distrusted = new Set<string>();
  for (;;) {
    try {
      return await tally(options, distrusted);
    } catch (error) {
      if (!(error instanceof StatsFileDistrusted)) throw error;
      distrusted.add(error.file); // rare (a corrupt line whose lengths still add up): count again without that file
    }
  }
}

async function tally(options: StatsOptions, distrusted: ReadonlySet<string>): Promise<StatsReport> {
  const until = options.until ?? Date.now();
  const since = options.since;
  const bucketCount = Math.max(1, Math.min(200, options.buckets ?? 12));
  const bucketMs = Math.max(1, (until - since) / bucketCount);
  const turns = { total: 0, ok: 0, failed: 0, cancelled: 0, fallbacks: 0, switches: 0 };
  const models = new Map<string, ModelAcc>();
  const backends = new Map<string, { turns: number; up: number; buckets: Array<{ turns: number; up: number }> }>();

  const modelAcc = (model: string, backend: string): ModelAcc => {
    let acc = models.get(model);
    if (!acc) {
      acc = {
        stats: { model, backend, turns: 0, answered: 0, attempts: 0, failures: 0, failureRate: null, fallbacksFrom: 0, fallbacksTo: 0, ttftMs: null, tokensPerSecondP50: null, queueWaitMsP50: null },
        ttft: [],
        tps: [],
        queue: [],
      };
      models.set(model, acc);
    }
    return acc;
  };
  const seen = new Map<string, boolean>();
  const tried = new Set<string>();

  const add = (r: StatsInput) => {
    turns.total++;
    turns[r.outcome]++;
    turns.fallbacks += r.fallbacks.length;
    if (r.switch) turns.switches++;
    tried.clear();
    seen.clear();
    for (const name of r.up) seen.set(name, true);
    for (const name of r.down) seen.set(name, false);
    for (const a of r.attempts) {
      const acc = modelAcc(a.model, a.backend);
      if (!tried.has(a.model)) {
        tried.add(a.model);
        acc.stats.turns++;
      }
      if (a.queueMs !== undefined) acc.queue.push(a.queueMs);
      if (a.error === 'cancelled') continue;
      acc.stats.attempts++;
      if (a.ok) {
        if (a.ttftMs !== undefined) acc.ttft.push(a.ttftMs);
        if (a.tokensPerSecond !== undefined) acc.tps.push(a.tokensPerSecond);
      } else acc.stats.failures++;
      // What the attempt says of its backend beats what the catalogue last knew.
      if (a.ok || a.error !== 'unreachable') seen.set(a.backend, true);
      else seen.set(a.backend, false);
    }
    if (r.model) {
      const answered = r.attempts.findLast((a) => a.model === r.model);
      modelAcc(r.model, answered?.backend ?? '').stats.answered++;
    }
    for (const f of r.fallbacks) {
      const from = r.attempts.find((a) => a.model === f.from);
      const to = r.attempts.find((a) => a.model === f.to);
      modelAcc(f.from, from?.backend ?? '').stats.fallbacksFrom++;
      modelAcc(f.to, to?.backend ?? '').stats.fallbacksTo++;
    }
    const slot = Math.min(bucketCount - 1, Math.max(0, Math.floor((r.t - since) / bucketMs)));
    for (const [name, up] of seen) {
      let b = backends.get(name);
      if (!b) {
        b = { turns: 0, up: 0, buckets: Array.from({ length: bucketCount }, () => ({ turns: 0, up: 0 })) };
        backends.set(name, b);
      }
      b.turns++;
      b.buckets[slot]!.turns++;
      if (up) {
        b.up++;
        b.buckets[slot]!.up++;
      }
    }
  };

  const read = await readTurns({ dir: options.dir, maxFiles: options.maxFiles, since, until }, add, distrusted);

  const modelStats = [...models.values()].map(({ stats, ttft, tps, queue }) => {
    const p50 = percentile(ttft, 0.5);
    const p95 = percentile(ttft, 0.95);
    return {
      ...stats,
      failureRate: stats.attempts > 0 ? round(stats.failures / stats.attempts, 4) : null,
      ttftMs: p50 === null || p95 === null ? null : { p50: round(p50)!, p95: round(p95)! },
      tokensPerSecondP50: round(percentile(tps, 0.5)),
      queueWaitMsP50: round(percentile(queue, 0.5)),
    };
  });
  modelStats.sort((a, b) => b.turns - a.turns || a.model.localeCompare(b.model));
  const backendStats = [...backends.entries()]
    .map(([backend, b]) => ({
      backend,
      turns: b.turns,
      reachable: b.turns > 0 ? round(b.up / b.turns, 4) : null,
      buckets: b.buckets.map((x, i) => ({ at: new Date(since + i * bucketMs).toISOString(), turns: x.turns, reachable: x.turns > 0 ? round(x.up / x.turns, 4) : null })),
    }))
    .sort((a, b) => a.backend.localeCompare(b.backend));
  return {
    since: new Date(since).toISOString(),
    until: new Date(until).toISOString(),
    bucketMs: Math.round(bucketMs),
    ledger: { dir: options.dir, files: read.files, lines: turns.total, unreadable: read.unreadable, fromStatsFiles: read.viaStats },
    turns,
    models: modelStats,
    backends: backendStats,
  };
}
