/**
 * The ledger and the metrics of one runtime: the observer that watches every turn, the ledger
 * (unless ledger.enabled is false) and the Prometheus metrics as its sinks, the gauges bound to
 * the running catalogue, queue and monitor, and the synchronous flush at exit.
 */
import type { Catalog } from '../catalog.ts';
import type { LedgerConfig } from '../config/schema.ts';
import type { ModelQueue } from '../fallback/model-queue.ts';
import { Ledger } from '../ledger/ledger.ts';
import type { Logger } from '../log.ts';
import { MaiMetrics } from '../metrics/mai-metrics.ts';
import type { ResourceMonitor } from '../monitor/resource-monitor.ts';
import { onExitFlush } from './exit-flush.ts';
import { TurnObserver } from './turn-observer.ts';

export interface ObservabilityOptions {
  ledger: LedgerConfig;
  stateDir: string;
  catalog: Catalog;
  queue: ModelQueue;
  monitor: ResourceMonitor;
  /** Kept across a reload (Prometheus counters only ever grow within a process). */
  metrics?: MaiMetrics | undefined;
  log: Logger;
}

export interface Observability {
  readonly observer: TurnObserver;
  /** null when ledger.enabled is false. */
  readonly ledger: Ledger | null;
  readonly metrics: MaiMetrics;
  /** Every ended turn handed to the sinks and the ledger's lines written (for a reader of either). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export function observeTurns(options: ObservabilityOptions): Observability {
  const { catalog, queue, monitor, log } = options;
  const ledger = options.ledger.enabled
    ? new Ledger({
        config: options.ledger,
        stateDir: options.stateDir,
        backends: () => catalog.status().map((b) => ({ name: b.name, reachable: b.reachable })),
        log: log.child('ledger'),
      })
    : null;
  const metrics = options.metrics ?? new MaiMetrics();
  metrics.bind({
    queue: () => queue.depths(),
    loadedModels: () => catalog.list().filter((m) => m.loaded).map((m) => ({ model: m.id, backend: m.backend })),
    backends: () => catalog.status(),
    resources: () => monitor.latest(),
  });
  const observer = new TurnObserver(ledger ? [ledger, metrics] : [metrics], log.child('observe'));
  const removeExitFlush = ledger
    ? onExitFlush(() => {
        observer.flush();
        ledger.flushSync();
      })
    : () => {};
  return {
    observer,
    ledger,
    metrics,
    async flush() {
      observer.flush();
      await ledger?.flush();
    },
    async close() {
      observer.flush();
      await ledger?.close();
      removeExitFlush();
    },
  };
}
