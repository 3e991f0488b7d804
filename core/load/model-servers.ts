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
  /** While this server cools down after a failure: until when (ISO) and why. */
  coolingDownUntil?: string;
  coolingReason?: string;
  /** True for the server the pin names (`mai switch id@backend`). */
  pinned?: boolean;
  /** False for a server that no longer lists the model (unreachable) but still cools down. */
  listed?: false;
}

export function modelServers(router: ReplicaRouter, model: CatalogModel, pinnedReplica: string | null = null): ModelServer[] {
  const cooling = router.cooling(model);
  const listed = router.loads(model);
  // A replica that failed and whose server no longer lists the model (unreachable) still shows while it cools.
  const gone = Object.values(cooling)
    .filter((c) => !listed.some((r) => r.backend === c.backend))
    .map((c): ModelServer => ({ backend: c.backend, host: c.host, slots: 0, slotsFrom: 'config', busy: 0, waiting: null, kvUsage: null, saturated: false, listed: false, coolingDownUntil: c.until, coolingReason: c.reason, ...(c.backend === pinnedReplica ? { pinned: true } : {}) }));
  return [...listed.map((r): ModelServer => ({
    backend: r.backend,
    host: r.host,
    slots: r.slots,
    slotsFrom: r.slotsReported ? 'server' : 'config',
    busy: r.busy,
    waiting: r.waiting,
    kvUsage: r.kvUsage,
    saturated: r.saturated,
    ...(cooling[r.backend] ? { coolingDownUntil: cooling[r.backend]!.until, coolingReason: cooling[r.backend]!.reason } : {}),
    ...(r.backend === pinnedReplica ? { pinned: true } : {}),
  })), ...gone];
}
