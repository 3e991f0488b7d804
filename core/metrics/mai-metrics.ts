/**
 * Mai's Prometheus metrics (a turn sink, fed off the reply's path; gauges read from the running Mai
 * when scraped). The instruments are prom-client's (prom-instruments.ts), imported the first time
 * the metrics are read — the `metrics` method, an exporter (metrics.textfile, metrics.listen) — or
 * once UNREAD_TURNS turns have ended unread: a process nobody scrapes (a one-shot `mai chat`, an
 * editor's session) never loads prom-client. Until then each ended turn waits as its few counts
 * (TurnCounts), and all of them are counted when the instruments arrive: what a scrape reads is
 * the same as if prom-client had counted from the start.
 */
import type { TurnSink } from '../observe/turn-observer.ts';
import type { TurnSummary } from '../observe/turn-summary.ts';
import type { PromInstruments } from './prom-instruments.ts';
import { turnCounts, type MetricsSource, type TurnCounts } from './turn-counts.ts';

export type { MetricsSource } from './turn-counts.ts';

/** Turns kept uncounted before prom-client is loaded anyway (bounds the memory they hold). */
export const UNREAD_TURNS = 256;

export class MaiMetrics implements TurnSink {
  readonly name = 'metrics';
  private source: MetricsSource | undefined;
  private instruments: PromInstruments | null = null;
  private loading: Promise<PromInstruments> | null = null;
  /** Ended turns not yet counted (the instruments are not loaded yet). */
  private unread: TurnCounts[] = [];

  /** Whether prom-client's instruments are loaded and counting each turn as it ends. */
  get counting(): boolean {
    return this.instruments !== null;
  }

  /** The running Mai the gauges read. */
  bind(source: MetricsSource): void {
    this.source = source;
  }

  turnEnded(s: TurnSummary): void {
    const counts = turnCounts(s);
    if (this.instruments) {
      this.instruments.count(counts);
      return;
    }
    this.unread.push(counts);
    if (this.unread.length >= UNREAD_TURNS) this.load().catch(() => undefined); // tried again by the next read
  }

  /** The instruments, loaded once, with every turn that ended before counted. */
  private load(): Promise<PromInstruments> {
    this.loading ??= import('./prom-instruments.ts').then(
      ({ PromInstruments }) => {
        const instruments = new PromInstruments(() => this.source);
        for (const counts of this.unread) instruments.count(counts);
        this.unread = [];
        this.instruments = instruments;
        return instruments;
      },
      (error: unknown) => {
        this.loading = null;
        throw error;
      },
    );
    return this.loading;
  }

  /** The exposition (Prometheus text format 0.0.4) and its content type. */
  async read(): Promise<{ contentType: string; text: string }> {
    const { registry } = await this.load();
    return { contentType: registry.contentType, text: await registry.metrics() };
  }
}
