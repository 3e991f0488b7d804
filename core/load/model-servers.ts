/** Each server (replica) of a model with its load now, as `mai models` shows it. */
import type { CatalogModel } from '../types.ts';
import type { ReplicaRouter } from './replica-router.ts';

/** One server (replica) of a model as `mai models` shows it. */
export interface ModelServer {
  backend: string;
  host: string;
  slots: number;
  /** 'server' when its server reported its slots, 'config' when fallback.parallelPerModel stands in. */
  slotsFrom: 'server' | 'config';
  busy: number;
  waiting: number | null;
  kvUsage: number | null;
  saturated: boolean;
  coolingDownUntil?: string;
}

export function modelServers(router: ReplicaRouter, model: CatalogModel): ModelServer[] {
  const cooling = router.cooling(model);
  return router.loads(model).map((r) => ({
    backend: r.backend,
    host: r.host,
    slots: r.slots,
    slotsFrom: r.slotsReported ? 'server' : 'config',
    busy: r.busy,
    waiting: r.waiting,
    kvUsage: r.kvUsage,
    saturated: r.saturated,
    ...(cooling[r.backend] ? { coolingDownUntil: cooling[r.backend] } : {}),
  }));
}
