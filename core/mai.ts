/**
 * The facade: what a client of Mai can do — chat, status, models, switch, conversations, reload.
 * The RPC server is a thin layer over this class.
 */
import { randomUUID } from 'node:crypto';
import { ClientRegistry, type ClientHandle, type ClientInfo, type ClientTurn } from './clients.ts';
import { loadConfig, type FindConfigOptions, type LoadedConfig } from './config/load.ts';
import { reloadTarget } from './config/reload-target.ts';
import type { ConversationPage } from './context/conversation-index.ts';
import type { Conversation } from './context/message.ts';
import { prepareTurnHistory, type TurnHistory } from './context/turn-history.ts';
import { ErrorCodes, MaiError } from './errors.ts';
import type { StatsReport } from './ledger/stats.ts';
import { createLogger, type Logger } from './log.ts';
import { MaiObservability, type MetricsText, type StatsOptions } from './mai-observability.ts';
import { modelsReport, statusReport, type ModelsReport, type StatusReport } from './mai-reports.ts';
import type { ResourceMonitor } from './monitor/resource-monitor.ts';
import type { TurnContext, TurnEvent, TurnRequest, TurnResult } from './pipeline/turn.ts';
import type { MaiPlugin } from './plugin.ts';
import { createRuntime, type Runtime } from './runtime.ts';
import { replicasOf } from './load/replica-router.ts';

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

export interface ChatOptions {
  signal?: AbortSignal;
  onEvent?: (event: TurnEvent) => void;
}

export type { MetricsText, StatsOptions } from './mai-observability.ts';
export type { CoolingReport, ModelReport, ModelServer, ModelsReport, StatusReport } from './mai-reports.ts';

export class Mai {
  private runtime: Runtime;
  private readonly options: MaiOptions;
  private readonly log: Logger;
  /** Outlive config reloads: a client stays attached across them. */
  private readonly clients = new ClientRegistry();
  /** The config file Mai was started with: a reload may always re-read it. */
  private readonly startedWith: string;
  /** The ledger and the metrics: stats, metrics and their exporters. */
  private readonly observed: MaiObservability;

  private constructor(runtime: Runtime, options: MaiOptions, log: Logger) {
    this.runtime = runtime;
    this.startedWith = runtime.loaded.file;
    this.options = options;
    this.log = log;
    this.observed = new MaiObservability(() => this.runtime, { exporters: options.exporters ?? false, log });
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
    await mai.observed.applyConfig();
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
    const { observer } = runtime.observability;
    const arrivedAt = Date.now();
    let clientTurn: ClientTurn | undefined;
    let prepared: TurnHistory;
    try {
      clientTurn = this.clients.beginTurn(request.client, options.signal);
      prepared = await prepareTurnHistory(runtime.store, request, runtime.loaded.config.context);
    } catch (error) {
      // Failed before the pipeline started (the client is gone, the conversation id is not valid or
      // its file cannot be read): still a turn of the ledger and the metrics, with its error.
      observer.endedBeforeStart(request, arrivedAt, error, options.signal);
      clientTurn?.end();
      throw error;
    }
    try {
      const { conversationId, history, added, needs, warnings } = prepared;
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
      const trace = observer.begin(turn);
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
  stats(options: StatsOptions = {}): Promise<StatsReport> {
    return this.observed.stats(options);
  }

  /** The Prometheus metrics, in the text exposition format. */
  metrics(): Promise<MetricsText> {
    return this.observed.metrics();
  }

  /** Where the metrics are exported now (null for what is off or not started). */
  get metricsExport(): { url: string | null; textfile: string | null } {
    return this.observed.export;
  }

  async models(options: { refresh?: boolean } = {}): Promise<ModelsReport> {
    const { catalog } = this.runtime;
    if (options.refresh ?? true) await catalog.refresh();
    else await catalog.ensure();
    return modelsReport(this.runtime);
  }

  /** Waits for the catalogue's first listing (once); later calls only refresh it in the background when stale. Cheap: no ranking. */
  ensureCatalog(): Promise<void> {
    return this.runtime.catalog.ensure();
  }

  status(): StatusReport {
    const runtime = this.runtime;
    return statusReport(runtime, this.clients.list((client) => runtime.queue.waitingOf(client)));
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
    const conversation = await this.runtime.store.load(id, { showEmpty: true });
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
      metrics: this.runtime.observability.metrics,
      ...(this.options.env ? { env: this.options.env } : {}),
      ...(this.options.createMonitor ? { createMonitor: this.options.createMonitor } : {}),
    });
    next.monitor.start();
    next.load.start();
    const previous = this.runtime;
    this.runtime = next;
    await previous.close();
    await this.observed.applyConfig();
    return { file: loaded.file };
  }

  async close(): Promise<void> {
    await this.runtime.close();
    await this.observed.close();
  }
}
