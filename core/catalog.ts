/**
 * The catalogue: every model the configured backends can run, merged with the config's metadata,
 * and each backend's reachability. Listing is cached and refreshed in the background so a turn
 * never waits on it once the first listing is in.
 */
import type { ModelMeta } from './config/schema.ts';
import { ErrorCodes, MaiError } from './errors.ts';
import type { Logger } from './log.ts';
import { groupReplicas } from './load/replica-groups.ts';
import type { Location } from './load/locality.ts';
import { GiB } from './select/memory-estimate.ts';
import type { Backend, BackendHealth, BackendModel, CatalogModel, Tier } from './types.ts';

const DEFAULT_CONTEXT = 4096;

export interface CatalogOptions {
  backends: ReadonlyArray<Backend>;
  models: ReadonlyArray<ModelMeta>;
  log: Logger;
  /** How long a listing stays fresh. */
  ttlMs?: number;
  /** How long one backend may take to list its models. */
  listTimeoutMs?: number;
  /** Where each backend runs (absent: this machine). */
  locations?: ReadonlyMap<string, Location>;
}

export interface BackendStatus extends BackendHealth {
  name: string;
  models: number;
}

/** A model's tier from its size when neither the config nor the backend says. */
function tierFromSize(sizeBytes: number | undefined): Tier {
  if (sizeBytes === undefined) return 'medium';
  if (sizeBytes < 3 * GiB) return 'small';
  if (sizeBytes < 12 * GiB) return 'medium';
  return 'large';
}

export function toCatalogModel(backend: string, model: BackendModel, meta: ModelMeta | undefined, id = model.id): CatalogModel {
  return {
    id,
    backendModelId: model.id,
    backend,
    loaded: model.loaded,
    contextLength: meta?.contextLength ?? model.contextLength ?? DEFAULT_CONTEXT,
    sizeBytes: model.sizeBytes,
    quantization: model.quantization,
    tier: meta?.tier ?? model.tier ?? tierFromSize(model.sizeBytes),
    capabilities: meta?.capabilities ?? model.capabilities ?? ['chat'],
    architecture: model.architecture,
    memoryBytes: model.memoryBytes,
    vramBytes: model.vramBytes,
    minMemoryBytes: meta?.minMemoryGb === undefined ? undefined : meta.minMemoryGb * GiB,
    minVramBytes: meta?.minVramGb === undefined ? undefined : meta.minVramGb * GiB,
    priority: meta?.priority ?? 0,
    ...(model.unavailable ? { unavailable: model.unavailable } : {}),
  };
}

export class Catalog {
  readonly backends: ReadonlyMap<string, Backend>;
  private readonly meta: ReadonlyArray<ModelMeta>;
  private readonly log: Logger;
  private readonly ttlMs: number;
  private readonly listTimeoutMs: number;
  private readonly locations: ReadonlyMap<string, Location>;
  private models: CatalogModel[] = [];
  private statuses = new Map<string, BackendStatus>();
  private refreshedAt = 0;
  private inFlight: Promise<void> | null = null;

  constructor(options: CatalogOptions) {
    this.backends = new Map(options.backends.map((b) => [b.name, b]));
    this.meta = options.models;
    this.log = options.log;
    this.ttlMs = options.ttlMs ?? 5_000;
    this.listTimeoutMs = options.listTimeoutMs ?? 3_000;
    this.locations = options.locations ?? new Map();
    for (const b of options.backends) this.statuses.set(b.name, { name: b.name, reachable: false, error: 'not listed yet', models: 0 });
  }

  /** Lists every backend again (concurrently, each bounded in time). */
  refresh(): Promise<void> {
    this.inFlight ??= this.listAll().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  /** Waits for a listing only when there has never been one; else refreshes in the background when stale. */
  async ensure(): Promise<void> {
    if (this.refreshedAt === 0) return this.refresh();
    if (Date.now() - this.refreshedAt > this.ttlMs) void this.refresh().catch((e) => this.log.warn('catalog refresh failed', e));
  }

  private async listAll(): Promise<void> {
    const listings = await Promise.all(
      [...this.backends.values()].map(async (backend) => {
        const signal = AbortSignal.timeout(this.listTimeoutMs);
        try {
          const listed = await backend.listModels(signal);
          // Listed but unable to run here: every model says why, and the backend is not usable.
          const unusable = backend.unusable?.();
          const models = unusable ? listed.map((m) => ({ ...m, unavailable: m.unavailable ?? unusable })) : listed;
          this.statuses.set(backend.name, { name: backend.name, reachable: !unusable, ...(unusable ? { error: unusable } : {}), models: models.length });
          return { backend: backend.name, models };
        } catch (error) {
          const message = signal.aborted
            ? `did not list its models within ${this.listTimeoutMs} ms`
            : MaiError.from(error, ErrorCodes.unreachable).message;
          this.statuses.set(backend.name, { name: backend.name, reachable: false, error: message, models: 0 });
          this.log.debug(`backend ${backend.name} unreachable: ${message}`);
          return { backend: backend.name, models: [] as BackendModel[] };
        }
      }),
    );
    // A model found in another server's store is that server's while it runs.
    const served = new Set([...this.backends.values()].filter((b) => b.serves && this.statuses.get(b.name)?.reachable).map((b) => b.serves));
    for (const listing of listings) listing.models = listing.models.filter((m) => !m.storeOf || !served.has(m.storeOf));
    // Demo models (random weights) stand in only while there is no real model.
    // (A demo model the config names under `models` is kept: someone asked for it.)
    if (listings.some((l) => l.models.some((m) => !m.demo))) {
      const named = new Set(this.meta.map((m) => m.id));
      for (const listing of listings) listing.models = listing.models.filter((m) => !m.demo || named.has(m.id));
    }
    // The same model on several servers (same id, same GGUF, or `replicaOf`) is one model with replicas.
    const here = (backend: string) => this.locations.get(backend) ?? { host: 'local', local: true };
    const next: CatalogModel[] = groupReplicas(listings, this.meta).map(({ id, meta, members }) => {
      const first = members[0]!;
      const model = toCatalogModel(first.backend, first.model, meta, id);
      Object.assign(model, here(first.backend));
      if (members.length > 1) {
        model.replicas = members.map((m) => ({ backend: m.backend, backendModelId: m.model.id, loaded: m.model.loaded, ...here(m.backend) }));
        model.loaded = members.some((m) => m.model.loaded);
        // Judged by this machine only when every replica runs here.
        model.local = model.replicas.every((r) => r.local);
      }
      return model;
    });
    // Config order first (it breaks ties), then what backends reported.
    const order = (m: CatalogModel) => {
      const i = this.meta.findIndex((meta) => meta.id === m.id || meta.id === m.backendModelId);
      return i === -1 ? Number.MAX_SAFE_INTEGER : i;
    };
    next.sort((a, b) => order(a) - order(b));
    this.models = next;
    this.refreshedAt = Date.now();
  }

  list(): readonly CatalogModel[] {
    return this.models;
  }

  get(id: string): CatalogModel | undefined {
    return (
      this.models.find((m) => m.id === id) ??
      this.models.find((m) => `${m.backend}/${m.backendModelId}` === id || m.replicas?.some((r) => `${r.backend}/${r.backendModelId}` === id))
    );
  }

  /**
   * A model reference as a client writes it: a model id, or `id@backend` for one of its servers
   * (a configured backend's name after the last `@`; a listed id that itself has an `@` stays whole).
   */
  splitRef(ref: string): { model: string; replica: string | null } {
    const at = ref.lastIndexOf('@');
    if (at <= 0 || this.get(ref)) return { model: ref, replica: null };
    const backend = ref.slice(at + 1);
    return this.backends.has(backend) ? { model: ref.slice(0, at), replica: backend } : { model: ref, replica: null };
  }

  /** Like get, but an unknown id is an error that lists the known ones. */
  require(id: string): CatalogModel {
    const model = this.get(id);
    if (model) return model;
    const known = this.models.map((m) => m.id);
    throw new MaiError(ErrorCodes.unknownModel, `Unknown model "${id}". Known models: ${known.join(', ') || '(none: no backend is reachable)'}.`, {
      data: { model: id, known },
    });
  }

  /** The backend serving `model` (a replica's view names its own backend). */
  backendOf(model: CatalogModel): Backend {
    const backend = this.backends.get(model.backend);
    if (!backend) throw new MaiError(ErrorCodes.internal, `Model ${model.id} names backend ${model.backend}, which is not configured.`);
    return backend;
  }

  /** Marks a model loaded or not after Mai loaded/unloaded it, until the next listing says otherwise. */
  markLoaded(id: string, loaded: boolean): void {
    const model = this.models.find((m) => m.id === id);
    if (model) model.loaded = loaded;
  }

  status(): BackendStatus[] {
    return [...this.statuses.values()];
  }

  async close(): Promise<void> {
    await Promise.all([...this.backends.values()].map((b) => b.close?.().catch(() => undefined)));
  }
}
