/**
 * Mai's Prometheus metrics, kept by prom-client in a registry of this Mai's own (never the global
 * one, so two Mai in one process never share counters). Counters and histograms follow the turns
 * (a turn sink, fed off the reply's path); gauges are read from the running Mai when scraped.
 * Names: `mai_` prefix, base units (seconds, bytes, ratios), counters end in `_total`.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { TurnSink } from '../observe/turn-observer.ts';
import type { TurnSummary } from '../observe/turn-summary.ts';
import type { ResourceSnapshot } from '../types.ts';

/** What the gauges read when scraped: the running Mai (rebound on config/reload). */
export interface MetricsSource {
  queue(): ReadonlyArray<{ model: string; waiting: number; running: number }>;
  loadedModels(): ReadonlyArray<{ model: string; backend: string }>;
  backends(): ReadonlyArray<{ name: string; reachable: boolean }>;
  resources(): ResourceSnapshot;
}

const known = (n: number | null | undefined): number => (n === null || n === undefined ? Number.NaN : n);

export class MaiMetrics implements TurnSink {
  readonly name = 'metrics';
  readonly registry = new Registry();
  private source: MetricsSource | undefined;

  private readonly turns: Counter<'model' | 'outcome'>;
  private readonly failures: Counter<'model' | 'code'>;
  private readonly fallbacks: Counter<'from' | 'to'>;
  private readonly switches: Counter<'from' | 'to'>;
  private readonly promptTokens: Counter<'model'>;
  private readonly completionTokens: Counter<'model'>;
  private readonly ttft: Histogram<'model'>;
  private readonly duration: Histogram<'model' | 'outcome'>;
  private readonly queueWait: Histogram<'model'>;

  constructor() {
    const registers = [this.registry];
    this.turns = new Counter({ name: 'mai_turns_total', help: 'Turns that ended, by the model that answered (or was chosen) and outcome (ok, failed, cancelled).', labelNames: ['model', 'outcome'], registers });
    this.failures = new Counter({ name: 'mai_attempt_failures_total', help: 'Attempts that failed, by model and error code.', labelNames: ['model', 'code'], registers });
    this.fallbacks = new Counter({ name: 'mai_fallbacks_total', help: 'Moves of a turn from one model to another after a failure.', labelNames: ['from', 'to'], registers });
    this.switches = new Counter({ name: 'mai_switches_total', help: 'Changes of the current model between turns.', labelNames: ['from', 'to'], registers });
    this.promptTokens = new Counter({ name: 'mai_prompt_tokens_total', help: 'Prompt tokens of answered turns, by model.', labelNames: ['model'], registers });
    this.completionTokens = new Counter({ name: 'mai_completion_tokens_total', help: 'Tokens generated for answered turns, by model.', labelNames: ['model'], registers });
    this.ttft = new Histogram({
      name: 'mai_time_to_first_token_seconds',
      help: 'From the start of the answering attempt to its first token, by model.',
      labelNames: ['model'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    });
    this.duration = new Histogram({
      name: 'mai_turn_duration_seconds',
      help: 'Whole turns, from the request to the result or the error, by model and outcome.',
      labelNames: ['model', 'outcome'],
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
      registers,
    });
    this.queueWait = new Histogram({
      name: 'mai_queue_wait_seconds',
      help: "Time an attempt waited for its model's queue, by model.",
      labelNames: ['model'],
      buckets: [0.001, 0.01, 0.1, 0.5, 1, 5, 10, 30, 60],
      registers,
    });

    // Gauges: read from the running Mai at each scrape.
    const source = (): MetricsSource | undefined => this.source;
    new Gauge({
      name: 'mai_queue_depth',
      help: 'Turns waiting for a model now.',
      labelNames: ['model'],
      registers,
      collect() {
        this.reset();
        for (const q of source()?.queue() ?? []) this.set({ model: q.model }, q.waiting);
      },
    });
    new Gauge({
      name: 'mai_turns_in_progress',
      help: 'Turns a model is answering now.',
      labelNames: ['model'],
      registers,
      collect() {
        this.reset();
        for (const q of source()?.queue() ?? []) this.set({ model: q.model }, q.running);
      },
    });
    new Gauge({
      name: 'mai_loaded_models',
      help: 'Models loaded now, by backend.',
      labelNames: ['backend'],
      registers,
      collect() {
        this.reset();
        const counts = new Map<string, number>();
        for (const b of source()?.backends() ?? []) counts.set(b.name, 0);
        for (const m of source()?.loadedModels() ?? []) counts.set(m.backend, (counts.get(m.backend) ?? 0) + 1);
        for (const [backend, n] of counts) this.set({ backend }, n);
      },
    });
    new Gauge({
      name: 'mai_backend_up',
      help: 'Whether a backend answered its last listing (1) or not (0).',
      labelNames: ['backend'],
      registers,
      collect() {
        this.reset();
        for (const b of source()?.backends() ?? []) this.set({ backend: b.name }, b.reachable ? 1 : 0);
      },
    });
    const resource = (name: string, help: string, read: (r: ResourceSnapshot) => number | null) =>
      new Gauge({
        name,
        help: `${help} (NaN when it could not be read).`,
        registers,
        collect() {
          const r = source()?.resources();
          this.set(r ? known(read(r)) : Number.NaN);
        },
      });
    resource('mai_cpu_load_ratio', "The machine's CPU load, smoothed, as a share of all cores", (r) => r.cpuLoad);
    resource('mai_memory_free_bytes', "The machine's free memory, smoothed", (r) => r.memFreeBytes);
    resource('mai_memory_total_bytes', "The machine's memory", (r) => r.memTotalBytes);
    new Gauge({
      name: 'mai_gpu_memory_free_bytes',
      help: 'Free memory of each GPU (absent where a GPU does not say).',
      labelNames: ['gpu'],
      registers,
      collect() {
        this.reset();
        for (const [i, g] of (source()?.resources().gpus ?? []).entries()) if (g.vramFreeBytes !== null) this.set({ gpu: `${i}:${g.name}` }, g.vramFreeBytes);
      },
    });
  }

  /** The running Mai the gauges read. */
  bind(source: MetricsSource): void {
    this.source = source;
  }

  turnEnded(s: TurnSummary): void {
    const model = s.answeredBy ?? s.chosen?.model.id ?? 'none';
    this.turns.inc({ model, outcome: s.outcome });
    this.duration.observe({ model, outcome: s.outcome }, s.durationMs / 1000);
    for (const a of s.attempts) {
      if (a.queueMs !== undefined) this.queueWait.observe({ model: a.model }, a.queueMs / 1000);
      if (a.ok && a.ttftMs !== undefined) this.ttft.observe({ model: a.model }, a.ttftMs / 1000);
      if (!a.ok && a.error !== undefined && a.error !== 'cancelled') this.failures.inc({ model: a.model, code: a.error });
    }
    for (const f of s.fallbacks) this.fallbacks.inc(f);
    if (s.switched) this.switches.inc(s.switched);
    const usage = s.turn.result?.usage;
    if (s.answeredBy && usage) {
      this.promptTokens.inc({ model: s.answeredBy }, usage.promptTokens);
      this.completionTokens.inc({ model: s.answeredBy }, usage.completionTokens);
    }
  }

  /** The exposition text (Prometheus text format 0.0.4). */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
