/**
 * Mai's side of the ledger and the metrics: `stats` read from the ledger, `metrics` as Prometheus
 * text, and the exporters the config names (the `.prom` textfile, the loopback listener), which
 * outlive config reloads. The per-runtime part — the observer, the ledger writer and the metrics
 * sink — is core/observe/observability.ts.
 */
import type { LoadedConfig } from './config/load.ts';
import { ledgerDir } from './ledger/ledger-files.ts';
import { computeStats, type StatsReport } from './ledger/stats.ts';
import { sinceOrThrow } from './ledger/window.ts';
import type { Logger } from './log.ts';
import { MetricsExporters } from './metrics/exporters.ts';
import type { Observability } from './observe/observability.ts';

export interface StatsOptions {
  /** The window: a duration back from now (1h, 30m, 7d) or a date; default 24h. */
  since?: string | undefined;
  /** Slices of the window for backend reachability over time (default 12). */
  buckets?: number | undefined;
}

export interface MetricsText {
  contentType: string;
  text: string;
}

/** What of the running runtime this reads (the current one: a reload swaps it). */
export interface ObservedRuntime {
  readonly observability: Observability;
  readonly loaded: LoadedConfig;
  readonly stateDir: string;
}

export class MaiObservability {
  private readonly exporters: MetricsExporters | null;

  constructor(
    private readonly runtime: () => ObservedRuntime,
    options: { exporters: boolean; log: Logger },
  ) {
    this.exporters = options.exporters ? new MetricsExporters({ metrics: () => this.metrics(), log: options.log.child('metrics') }) : null;
  }

  /** Starts, keeps or stops the exporters as the running config says (at start and after each reload). */
  async applyConfig(): Promise<void> {
    const { loaded } = this.runtime();
    await this.exporters?.apply(loaded.config.metrics, loaded.baseDir);
  }

  /** Per model and backend over a window, from the ledger (every Mai sharing the state directory, across restarts). */
  async stats(options: StatsOptions = {}): Promise<StatsReport> {
    const { observability, loaded, stateDir } = this.runtime();
    const since = sinceOrThrow(options.since ?? '24h');
    await observability.flush(); // this process's latest turns are in
    return computeStats({ dir: ledgerDir(stateDir), maxFiles: loaded.config.ledger.maxFiles, since, ...(options.buckets ? { buckets: options.buckets } : {}) });
  }

  /** The Prometheus metrics, in the text exposition format. */
  async metrics(): Promise<MetricsText> {
    const { observer, metrics } = this.runtime().observability;
    observer.flush();
    return metrics.read();
  }

  /** Where the metrics are exported now (null for what is off or not started). */
  get export(): { url: string | null; textfile: string | null } {
    return { url: this.exporters?.url ?? null, textfile: this.exporters?.textfilePath ?? null };
  }

  async close(): Promise<void> {
    await this.exporters?.close();
  }
}
