/**
 * The facade: what a client of Mai can do — chat, status, models, switch, conversations, reload.
 * The RPC server is a thin layer over this class.
 */
import { randomUUID } from 'node:crypto';
import { ClientRegistry, type ClientHandle, type ClientInfo, type ClientStatus } from './clients.ts';
import { loadConfig, type FindConfigOptions, type LoadedConfig } from './config/load.ts';
import { reloadTarget } from './config/reload-target.ts';
import type { ConversationPage } from './context/conversation-index.ts';
import type { Conversation } from './context/message.ts';
import { prepareTurnHistory } from './context/turn-history.ts';
import { ErrorCodes, MaiError } from './errors.ts';
import type { ModelQueueStatus } from './fallback/model-queue.ts';
import { ledgerDir } from './ledger/ledger-files.ts';
import { computeStats, type StatsReport } from './ledger/stats.ts';
import { sinceOrThrow } from './ledger/window.ts';
import { createLogger, type Logger } from './log.ts';
import { MetricsExporters } from './metrics/exporters.ts';
import type { ResourceMonitor } from './monitor/resource-monitor.ts';
import type { TurnContext, TurnEvent, TurnRequest, TurnResult } from './pipeline/turn.ts';
import type { RankedModel } from './select/ranking.ts';
import type { MaiPlugin } from './plugin.ts';
import { createRuntime, type Runtime } from './runtime.ts';
import type { SwitchRecord } from './state.ts';
import type { LoadReport } from './load/load-board.ts';
import { modelServers, type ModelServer } from './load/model-servers.ts';
import { replicasOf } from './load/replica-router.ts';
import type { Capability, ResourceSnapshot, Tier } from './types.ts';

export interface MaiOptions {
  loaded?: LoadedConfig;
  find?: FindConfigOptions;
  /** The plugins a config's `use:` may name: the caller hands in the built-ins (plugins/index.ts), since core imports no plugin. */
  plugins: readonly MaiPlugin[];
  log?: Logger;
  env?: Readonly<Record<string, string | undefined>>;
  createMonitor?: (loaded: LoadedConfig, log: Logger) => ResourceMonitor;
  /**
   * Start the metrics exporters the config names (metrics.textfile, metrics.listen). The long-lived
   * server does; one-shot commands do not (they would overwrite the server's file and find its port taken).
   */
  exporters?: boolean;
}

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

export interface ChatOptions {
  signal?: AbortSignal;
  onEvent?: (event: TurnEvent) => void;
}

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


export type { ModelServer };

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


export class Mai {
  private runtime: Runtime;
  private readonly options: MaiOptions;
  private readonly log: Logger;
  /** Outlive config reloads: a client stays attached across them. */
  private readonly clients = new ClientRegistry();
  /** The config file Mai was started with: a reload may always re-read it. */
  private readonly startedWith: string;
  private readonly exporters: MetricsExporters | null;

  private constructor(runtime: Runtime, options: MaiOptions, log: Logger) {
    this.runtime = runtime;
    this.startedWith = runtime.loaded.file;
    this.options = options;
    this.log = log;
    this.exporters = options.exporters ? new MetricsExporters({ metrics: () => this.metrics(), log: log.child('metrics') }) : null;
  }

  static async create(options: MaiOptions): Promise<Mai> {
    const log = options.log ?? createLogger();
    const loaded = options.loaded ?? loadConfig(options.find);
    const runtime = await createRuntime({
      loaded,
      plugins: options.plugins,
      log,
      ...(options.env ? { env: options.env } : {}),
      ...(options.createMonitor ? { createMonitor: options.createMonitor } : {}),
    });
    runtime.monitor.start();
    runtime.load.start();
    const mai = new Mai(runtime, options, log);
    await mai.exporters?.apply(loaded.config.metrics, loaded.baseDir);
    return mai;
  }

  get config(): LoadedConfig {
    return this.runtime.loaded;
  }

  get stateDir(): string {
    return this.runtime.stateDir;
  }

  /**
   * A client of this Mai (the host attaches one per connection): its turns (`client: handle.id`)
   * are counted under it and served fairly beside other clients'; `detach()` cancels them.
   */
  attachClient(info: ClientInfo = {}): ClientHandle {
    return this.clients.attach(info);
  }

  /** Answers one turn with the best model that fits now. */
  async chat(request: TurnRequest, options: ChatOptions = {}): Promise<TurnResult> {
    const runtime = this.runtime;
    const clientTurn = this.clients.beginTurn(request.client, options.signal);
    try {
      const { conversationId, history, added, needs, warnings } = await prepareTurnHistory(runtime.store, request, runtime.loaded.config.context);
      for (const warning of warnings) this.log.warn(warning);
      const turn: TurnContext = {
        id: randomUUID(),
        // A turn with no client stays without one (it counts under the implicit local client).
        request,
        signal: clientTurn.signal,
        startedAt: Date.now(),
        emit: options.onEvent ?? (() => {}),
        conversationId,
        history,
        added,
        needs,
        attempts: [],
        streamed: false,
      };
      runtime.state.counters.turns++;
      const trace = runtime.observer.begin(turn);
      try {
        await runtime.run(turn);
        if (!turn.result) throw new MaiError(ErrorCodes.internal, 'The pipeline finished without an answer.');
      } catch (error) {
        trace.end(error);
        throw error;
      }
      trace.end();
      return turn.result;
    } finally {
      clientTurn.end();
    }
  }

  /** Per model and backend over a window, from the ledger (every Mai sharing the state directory, across restarts). */
  async stats(options: StatsOptions = {}): Promise<StatsReport> {
    const { observer, ledger, loaded, stateDir } = this.runtime;
    const since = sinceOrThrow(options.since ?? '24h');
    observer.flush();
    await ledger?.flush(); // this process's latest turns are in
    return computeStats({ dir: ledgerDir(stateDir), maxFiles: loaded.config.ledger.maxFiles, since, ...(options.buckets ? { buckets: options.buckets } : {}) });
  }

  /** The Prometheus metrics, in the text exposition format. */
  async metrics(): Promise<MetricsText> {
    const { observer, metrics } = this.runtime;
    observer.flush();
    return { contentType: metrics.contentType, text: await metrics.text() };
  }

  /** Where the metrics are exported now (null for what is off or not started). */
  get metricsExport(): { url: string | null; textfile: string | null } {
    return { url: this.exporters?.url ?? null, textfile: this.exporters?.textfilePath ?? null };
  }

  async models(options: { refresh?: boolean } = {}): Promise<ModelsReport> {
    const { catalog, selector, state, monitor, cooldowns, loaded, router } = this.runtime;
    if (options.refresh ?? true) await catalog.refresh();
    else await catalog.ensure();
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

  /** Waits for the catalogue's first listing (once); later calls only refresh it in the background when stale. Cheap: no ranking. */
  ensureCatalog(): Promise<void> {
    return this.runtime.catalog.ensure();
  }

  status(): StatusReport {
    const { state, monitor, catalog, loaded, queue, locations, load, cooldowns, router } = this.runtime;
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
      clients: this.clients.list((client) => queue.waitingOf(client)),
      queues: queue.status(),
    };
  }

  /**
   * Pins a model (null or "auto" unpins) for every client of this Mai: the pin is the machine's
   * (saved in the state directory), not one connection's. `id@backend` pins one server of a model
   * served by several: it answers while it is not cooling down; while it cools, the model's other
   * servers do (never another model first). An unknown id is an error listing the known ones.
   */
  async switch(model: string | null): Promise<{ pinned: string | null; replica?: string }> {
    const { catalog, state } = this.runtime;
    if (model === null || model === 'auto') {
      state.pin(null);
      return { pinned: null };
    }
    await catalog.ensure();
    const ref = catalog.splitRef(model);
    const found = catalog.require(ref.model);
    if (ref.replica !== null) {
      const servers = replicasOf(found).map((r) => r.backend);
      if (!servers.includes(ref.replica)) {
        throw new MaiError(ErrorCodes.unknownModel, `${found.id} is not served by ${ref.replica} now; its servers: ${servers.join(', ')}. Pin one of them (${found.id}@${servers[0]}) or the model (${found.id}).`, {
          data: { model: found.id, replica: ref.replica, servers },
        });
      }
    }
    state.pin(found.id, ref.replica);
    return { pinned: found.id, ...(ref.replica !== null ? { replica: ref.replica } : {}) };
  }

  /** One page of the conversations, newest first (`nextCursor` asks for the next one). */
  listConversations(options: { cursor?: string | undefined; limit?: number | undefined } = {}): Promise<ConversationPage> {
    return this.runtime.store.list(options);
  }

  async getConversation(id: string): Promise<Conversation> {
    const conversation = await this.runtime.store.load(id);
    if (!conversation) {
      throw new MaiError(ErrorCodes.conversationNotFound, `No conversation "${id}". \`mai conversations\` (conversations/list) lists them.`, {
        data: { conversationId: id },
      });
    }
    return conversation;
  }

  async deleteConversation(id: string): Promise<{ deleted: boolean }> {
    return { deleted: await this.runtime.store.delete(id) };
  }

  /**
   * Loads the config again (or `config`, when it is Mai's own or listed under `reload.allow`);
   * a broken one is refused and the running one stays.
   */
  async reload(request: { config?: string | undefined } = {}): Promise<{ file: string }> {
    const loaded = loadConfig({ flag: reloadTarget(this.runtime.loaded, this.startedWith, request.config) });
    const next = await createRuntime({
      loaded,
      plugins: this.options.plugins,
      log: this.log,
      state: this.runtime.state,
      metrics: this.runtime.metrics,
      ...(this.options.env ? { env: this.options.env } : {}),
      ...(this.options.createMonitor ? { createMonitor: this.options.createMonitor } : {}),
    });
    next.monitor.start();
    next.load.start();
    const previous = this.runtime;
    this.runtime = next;
    await previous.close();
    await this.exporters?.apply(loaded.config.metrics, loaded.baseDir);
    return { file: loaded.file };
  }

  async close(): Promise<void> {
    await this.runtime.close();
    await this.exporters?.close();
  }
}
