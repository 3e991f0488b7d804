/**
 * What `models/list` and `status` answer: the report types and how each is built from a runtime
 * (core/mai.ts is the facade that calls these).
 */
import type { ClientStatus } from './clients.ts';
import type { ModelQueueStatus } from './fallback/model-queue.ts';
import type { LoadReport } from './load/load-board.ts';
import { modelServers, type ModelServer } from './load/model-servers.ts';
import type { Runtime } from './runtime.ts';
import type { RankedModel } from './select/ranking.ts';
import type { SwitchRecord } from './state.ts';
import type { Capability, ResourceSnapshot, Tier } from './types.ts';

export type { ModelServer };

export interface ModelReport {
  id: string;
  backend: string;
  loaded: boolean;
  contextLength: number;
  sizeBytes: number | null;
  quantization: string | null;
  tier: Tier;
  capabilities: Capability[];
  fits: boolean;
  reason?: string;
  score: number;
  scores: Record<string, number>;
  vetoes: string[];
  reasons: string[];
  /** While the model cools down after repeated failures: until when (ISO) and why. */
  coolingDownUntil?: string;
  coolingReason?: string;
  /** Where it runs: 'local' or the host's name (the first replica's). */
  host: string;
  /** Each server that answers for it, with its load now. */
  servers: ModelServer[];
}

export interface ModelsReport {
  models: ModelReport[];
  current: string | null;
  pinned: string | null;
  /** The pinned model's server the pin names (`mai switch id@backend`), else null. */
  pinnedReplica: string | null;
}

/** Something cooling down now: a model (backend null) or one server of it; until when (ISO) and why. */
export interface CoolingReport {
  model: string;
  backend: string | null;
  until: string;
  reason: string;
}

export interface StatusReport {
  model: string | null;
  pinned: string | null;
  /** The pinned model's server the pin names, else null; while it cools, `cooling` says until when and why. */
  pinnedReplica: string | null;
  /** Models and servers (replicas) cooling down after failures: tried last (a replica: not at all) until then. */
  cooling: CoolingReport[];
  resources: ResourceSnapshot;
  backends: Array<{ name: string; reachable: boolean; error?: string; host: string; local: boolean; load?: LoadReport }>;
  counters: { turns: number; fallbacks: number; switches: number };
  lastSwitch?: SwitchRecord;
  uptimeMs: number;
  config: { file: string; source: string };
  /** Models the backends say are loaded now (from the catalogue's latest listing). */
  loaded: Array<{ model: string; backend: string; memoryBytes: number | null }>;
  /** Every attached client (and the local one once it sent a turn), with its turns. */
  clients: ClientStatus[];
  /** Every model with turns running or waiting. */
  queues: ModelQueueStatus[];
}

/** Every model of the catalogue, ranked for a plain chat turn now. */
export function modelsReport(runtime: Runtime): ModelsReport {
  const { catalog, selector, state, monitor, cooldowns, loaded, router } = runtime;
  const ranking: RankedModel[] = selector.rank({
    catalog: catalog.list(),
    resources: monitor.latest(),
    needs: { capabilities: ['chat'], minPromptTokens: 0, fullPromptTokens: 0, replyTokens: loaded.config.context.replyTokens },
    current: state.current,
  });
  const cooling = cooldowns.snapshot();
  return {
    models: ranking.map((r) => ({
      id: r.model.id,
      backend: r.model.backend,
      loaded: r.model.loaded,
      contextLength: r.model.contextLength,
      sizeBytes: r.model.sizeBytes ?? null,
      quantization: r.model.quantization ?? null,
      tier: r.model.tier,
      capabilities: r.model.capabilities,
      fits: r.fits,
      ...(r.fits ? {} : { reason: r.vetoes.join('; ') }),
      score: Math.round(r.score * 1000) / 1000,
      scores: r.scores,
      vetoes: r.vetoes,
      reasons: r.reasons,
      ...(cooling[r.model.id] ? { coolingDownUntil: cooling[r.model.id], coolingReason: cooldowns.why(r.model.id) ?? 'repeated failures' } : {}),
      host: r.model.host ?? 'local',
      servers: modelServers(router, r.model, r.model.id === state.pinned ? state.pinnedReplica : null),
    })),
    current: state.current,
    pinned: state.pinned,
    pinnedReplica: state.pinnedReplica,
  };
}

export function statusReport(runtime: Runtime, clients: ClientStatus[]): StatusReport {
  const { state, monitor, catalog, loaded, queue, locations, load, cooldowns, router } = runtime;
  const models = Object.entries(cooldowns.snapshot()).map(([model, until]) => ({ model, backend: null, until, reason: cooldowns.why(model) ?? 'repeated failures' }));
  return {
    model: state.current,
    pinned: state.pinned,
    pinnedReplica: state.pinnedReplica,
    cooling: [...models, ...router.coolingAll()],
    resources: monitor.latest(),
    backends: catalog.status().map((b) => {
      const where = locations.get(b.name) ?? { host: 'local', local: true };
      const figures = load.report(b.name);
      return { name: b.name, reachable: b.reachable, ...(b.error ? { error: b.error } : {}), ...where, ...(figures ? { load: figures } : {}) };
    }),
    counters: { ...state.counters },
    ...(state.lastSwitch ? { lastSwitch: state.lastSwitch } : {}),
    uptimeMs: Date.now() - state.startedAt,
    config: { file: loaded.file, source: loaded.source },
    loaded: catalog
      .list()
      .filter((m) => m.loaded)
      .map((m) => ({ model: m.id, backend: m.backend, memoryBytes: m.memoryBytes ?? null })),
    clients,
    queues: queue.status(),
  };
}
