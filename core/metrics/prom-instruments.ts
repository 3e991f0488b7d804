/**
 * Mai's Prometheus metrics as prom-client instruments, in a registry of this Mai's own (never the
 * global one, so two Mai in one process never share counters). Imported by mai-metrics.ts the
 * first time the metrics are read (or after many turns): prom-client and what it requires
 * (@opentelemetry/api, tdigest) are ~30 ms of a cold start's CPU that a process nobody scrapes
 * never needs. Counters and histograms count each turn's facts; gauges are read when scraped.
 * Names: `mai_` prefix, base units (seconds, bytes, ratios), counters end in `_total`.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ResourceSnapshot } from '../types.ts';
import type { MetricsSource, TurnCounts } from './turn-counts.ts';

const known = (n: number | null | undefined): number => (n === null || n === undefined ? Number.NaN : n);

export class PromInstruments {
  readonly registry = new Registry();
  private readonly turns: Counter<'model' | 'outcome'>;
  private readonly failures: Counter<'model' | 'code'>;
  private readonly fallbacks: Counter<'from' | 'to'>;
  private readonly switches: Counter<'from' | 'to'>;
  private readonly promptTokens: Counter<'model'>;
  private readonly completionTokens: Counter<'model'>;
  private readonly ttft: Histogram<'model'>;
  private readonly duration: Histogram<'model' | 'outcome'>;
  private readonly queueWait: Histogram<'model'>;

  constructor(source: () => MetricsSource | undefined) {
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

  count(c: TurnCounts): void {
    const { model } = c;
    this.turns.inc({ model, outcome: c.outcome });
    this.duration.observe({ model, outcome: c.outcome }, c.durationSeconds);
    for (const [m, seconds] of c.queueWaits) this.queueWait.observe({ model: m }, seconds);
    for (const [m, seconds] of c.ttfts) this.ttft.observe({ model: m }, seconds);
    for (const [m, code] of c.failures) this.failures.inc({ model: m, code });
    for (const f of c.fallbacks) this.fallbacks.inc(f);
    if (c.switched) this.switches.inc(c.switched);
    if (c.usage) {
      this.promptTokens.inc({ model: c.usage.model }, c.usage.promptTokens);
      this.completionTokens.inc({ model: c.usage.model }, c.usage.completionTokens);
    }
  }
}
