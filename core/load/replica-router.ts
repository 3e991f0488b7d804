/**
 * Which server answers a turn for a model served by several (its replicas): the least-loaded
 * healthy one — Mai's own turns routed there and the server's reported running + waiting,
 * relative to its slots — except that a conversation goes back to the replica that answered its
 * last turn (its prompt prefix is cached there) while that one is neither saturated nor cooling.
 * A replica that fails cools down (`fallback.cooldownMs`, with why, for `status` and `models`) and
 * the turn's next attempt goes to another replica before any other model. A replica the client
 * pinned (`id@backend`) goes first, even when busy, while it is not cooling; while it cools the
 * other replicas answer. Also the source of each model's parallel limit: its server's slots when
 * it reports them, else `fallback.parallelPerModel`.
 */
import type { MaiError } from '../errors.ts';
import type { TurnContext } from '../pipeline/turn.ts';
import type { CatalogModel, Replica } from '../types.ts';
import type { LoadBoard } from './load-board.ts';
import { extend } from '../extend.ts';

export interface RouterOptions {
  board: LoadBoard;
  /** Turns one model answers at once when its server does not say. */
  parallelPerModel: number;
  cooldownMs: number;
  /** Conversations remembered for affinity (the oldest is forgotten first). */
  maxAffinities?: number;
}

/** One replica as the router and the load scorer see it now. */
export interface ReplicaLoad extends Replica {
  slots: number;
  /** True when `slots` came from the server, false when from the config. */
  slotsReported: boolean;
  /** Mai's turns routed there and not finished, plus what others had running or waiting there at the last sample. */
  busy: number;
  /** What the server says waits for a slot (null: it does not say or the figure is stale). */
  waiting: number | null;
  kvUsage: number | null;
  known: boolean;
  cooling: boolean;
  saturated: boolean;
}

export interface Routed {
  /** The model as that replica serves it (backend, id and loaded state of the replica). */
  model: CatalogModel;
  /** The queue's key: the model id, or `id@backend` for one replica of several. */
  key: string;
  /** Says how the attempt ended: a failure (other than a cancellation) cools the replica. */
  done(error?: MaiError): void;
}

/** A replica cooling down: which, until when (ISO) and why (the failure that cooled it). */
export interface ReplicaCooling {
  model: string;
  backend: string;
  host: string;
  until: string;
  reason: string;
}

/** What scorers may ask: each replica of a model with its load now. */
export interface LoadView {
  loads(model: CatalogModel, now?: number): ReplicaLoad[];
}

export function replicasOf(model: CatalogModel): Replica[] {
  return model.replicas && model.replicas.length > 0
    ? model.replicas
    : [{ backend: model.backend, backendModelId: model.backendModelId, loaded: model.loaded, host: model.host ?? 'local', local: model.local ?? true }];
}

export class ReplicaRouter implements LoadView {
  private readonly coolUntil = new Map<string, { until: number; model: string; backend: string; host: string; reason: string }>();
  private readonly affinity = new Map<string, string>();
  private readonly keyBackend = new Map<string, string>();
  private readonly tried = new WeakMap<TurnContext, Set<string>>();

  /** Mai's turns routed to each backend and not finished (all models). */
  private readonly perBackend = new Map<string, number>();
  /** Turns ever routed to each backend (a sample's share of Mai's own turns is counted from it). */
  private readonly startedAt = new Map<string, number>();

  constructor(private readonly options: RouterOptions) {
    options.board.ownLoad = (backend) => ({ inFlight: this.perBackend.get(backend) ?? 0, started: this.startedAt.get(backend) ?? 0 });
  }

  private replicaKey(model: CatalogModel, backend: string): string {
    return `${model.id}@${backend}`;
  }

  /** The parallel limit for a queue key: its server's slots, else the config's. */
  limitOf(key: string): number {
    const backend = this.keyBackend.get(key);
    const slots = backend ? this.options.board.of(backend)?.slots : null;
    return slots ?? this.options.parallelPerModel;
  }

  /** Every replica of a model with its load now, in the catalogue's order. */
  loads(model: CatalogModel, now = Date.now()): ReplicaLoad[] {
    return replicasOf(model).map((r) => {
      const figures = this.options.board.of(r.backend, now);
      const slots = figures?.slots ?? this.options.parallelPerModel;
      // Mai's own turns there now, plus what others had there at the last sample.
      const busy = (this.perBackend.get(r.backend) ?? 0) + this.options.board.foreign(r.backend, now);
      // Each field named: properties defined after a spread are slow on Node 20 (core/extend.ts).
      return {
        backend: r.backend,
        backendModelId: r.backendModelId,
        loaded: r.loaded,
        host: r.host,
        local: r.local,
        slots,
        slotsReported: figures?.slots != null,
        busy,
        waiting: figures?.waiting ?? null,
        kvUsage: figures?.kvUsage ?? null,
        known: figures !== undefined,
        cooling: (this.coolUntil.get(this.replicaKey(model, r.backend))?.until ?? 0) > now,
        saturated: busy >= slots,
      };
    });
  }

  /** True when the turn has a replica of `model` it has not tried and that is not cooling. */
  hasAnother(turn: TurnContext, model: CatalogModel): boolean {
    const tried = this.tried.get(turn) ?? new Set<string>();
    return this.loads(model).some((r) => !tried.has(r.backend) && !r.cooling);
  }

  route(turn: TurnContext, model: CatalogModel): Routed {
    const now = Date.now();
    const all = this.loads(model, now);
    const tried = this.tried.get(turn) ?? new Set<string>();
    this.tried.set(turn, tried);
    const fresh = all.filter((r) => !tried.has(r.backend));
    const pool = fresh.length > 0 ? fresh : all;
    const healthy = pool.filter((r) => !r.cooling);
    const candidates = healthy.length > 0 ? healthy : pool;
    const sticky = this.affinity.get(turn.conversationId);
    const ratio = (r: ReplicaLoad) => r.busy / r.slots;
    const chosen =
      candidates.find((r) => turn.replica?.model === model.id && r.backend === turn.replica.backend && !r.cooling) ??
      candidates.find((r) => r.backend === sticky && !r.saturated && !r.cooling) ??
      candidates.reduce((best, r) => (ratio(r) < ratio(best) - 1e-9 ? r : best));
    tried.add(chosen.backend);
    const several = all.length > 1;
    const key = several ? this.replicaKey(model, chosen.backend) : model.id;
    const counter = this.replicaKey(model, chosen.backend);
    this.keyBackend.set(key, chosen.backend);
    this.perBackend.set(chosen.backend, (this.perBackend.get(chosen.backend) ?? 0) + 1);
    this.startedAt.set(chosen.backend, (this.startedAt.get(chosen.backend) ?? 0) + 1);
    let finished = false;
    return {
      model: several
        ? extend(model, { backend: chosen.backend, backendModelId: chosen.backendModelId, loaded: chosen.loaded, host: chosen.host, local: chosen.local })
        : model,
      key,
      done: (error) => {
        if (finished) return;
        finished = true;
        const atBackend = (this.perBackend.get(chosen.backend) ?? 1) - 1;
        if (atBackend <= 0) this.perBackend.delete(chosen.backend);
        else this.perBackend.set(chosen.backend, atBackend);
        if (!error) {
          this.coolUntil.delete(counter);
          this.remember(turn.conversationId, chosen.backend);
        } else if (error.retryable && error.code !== 'cancelled' && several) {
          this.coolUntil.set(counter, { until: Date.now() + this.options.cooldownMs, model: model.id, backend: chosen.backend, host: chosen.host, reason: `${error.code}: ${error.message}` });
        }
      },
    };
  }

  private remember(conversation: string, backend: string): void {
    this.affinity.delete(conversation);
    this.affinity.set(conversation, backend);
    const max = this.options.maxAffinities ?? 10_000;
    if (this.affinity.size > max) this.affinity.delete(this.affinity.keys().next().value!);
  }

  /** A model's replicas cooling now, by backend (one whose server stopped listing the model included), for `mai models`. */
  cooling(model: CatalogModel, now = Date.now()): Record<string, ReplicaCooling> {
    const out: Record<string, ReplicaCooling> = {};
    for (const entry of this.coolingAll(now)) if (entry.model === model.id) out[entry.backend] = entry;
    return out;
  }

  /** Every replica cooling now (including one whose server no longer lists the model), for `mai status`. */
  coolingAll(now = Date.now()): ReplicaCooling[] {
    return [...this.coolUntil.keys()].flatMap((key) => this.cooledNow(key, now) ?? []);
  }

  private cooledNow(key: string, now: number): ReplicaCooling | undefined {
    const entry = this.coolUntil.get(key);
    if (!entry) return undefined;
    if (entry.until <= now) {
      this.coolUntil.delete(key);
      return undefined;
    }
    return { model: entry.model, backend: entry.backend, host: entry.host, until: new Date(entry.until).toISOString(), reason: entry.reason };
  }
}
