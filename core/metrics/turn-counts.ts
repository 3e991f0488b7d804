/**
 * What the metrics count of one ended turn (TurnCounts, folded from its summary) and what their
 * gauges read when scraped (MetricsSource): shared by mai-metrics.ts, which keeps the counts until
 * the instruments are loaded, and prom-instruments.ts, which counts them.
 */
import type { TurnSummary } from '../observe/turn-summary.ts';
import type { ResourceSnapshot } from '../types.ts';

/** What the gauges read when scraped: the running Mai (rebound on config/reload). */
export interface MetricsSource {
  queue(): ReadonlyArray<{ model: string; waiting: number; running: number }>;
  loadedModels(): ReadonlyArray<{ model: string; backend: string }>;
  backends(): ReadonlyArray<{ name: string; reachable: boolean }>;
  resources(): ResourceSnapshot;
}

/** What one ended turn adds to the counters and histograms. */
export interface TurnCounts {
  model: string;
  outcome: TurnSummary['outcome'];
  durationSeconds: number;
  queueWaits: Array<[model: string, seconds: number]>;
  ttfts: Array<[model: string, seconds: number]>;
  failures: Array<[model: string, code: string]>;
  fallbacks: Array<{ from: string; to: string }>;
  switched: { from: string; to: string } | null;
  usage: { model: string; promptTokens: number; completionTokens: number } | undefined;
}

export function turnCounts(s: TurnSummary): TurnCounts {
  const counts: TurnCounts = {
    model: s.answeredBy ?? s.chosen?.model.id ?? 'none',
    outcome: s.outcome,
    durationSeconds: s.durationMs / 1000,
    queueWaits: [],
    ttfts: [],
    failures: [],
    fallbacks: s.fallbacks,
    switched: s.switched,
    usage: undefined,
  };
  for (const a of s.attempts) {
    if (a.queueMs !== undefined) counts.queueWaits.push([a.model, a.queueMs / 1000]);
    if (a.ok && a.ttftMs !== undefined) counts.ttfts.push([a.model, a.ttftMs / 1000]);
    if (!a.ok && a.error !== undefined && a.error !== 'cancelled') counts.failures.push([a.model, a.error]);
  }
  const usage = s.turn.result?.usage;
  if (s.answeredBy && usage) counts.usage = { model: s.answeredBy, promptTokens: usage.promptTokens, completionTokens: usage.completionTokens };
  return counts;
}
