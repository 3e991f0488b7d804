/**
 * Assembles everything one config describes — plugins, catalogue, monitor, selector, store and the
 * five-stage pipeline — as one runtime. Built whole before it is used, so a broken config never
 * half-applies (config/reload builds a new runtime and swaps it in only when it is complete).
 */
import { join, resolve } from 'node:path';
import { Catalog } from './catalog.ts';
import type { LoadedConfig } from './config/load.ts';
import type { BackendRef, ScorerRef } from './config/schema.ts';
import { ConversationStore } from './context/conversation-store.ts';
import { Cooldowns } from './fallback/cooldown.ts';
import { ModelQueue } from './fallback/model-queue.ts';
import { LoadBoard, type LoadProbe } from './load/load-board.ts';
import { locate, type Location } from './load/locality.ts';
import { ReplicaRouter } from './load/replica-router.ts';
import type { Logger } from './log.ts';
import type { MaiMetrics } from './metrics/mai-metrics.ts';
import { OsMonitor, type LoadedModelsSource, type ResourceMonitor } from './monitor/resource-monitor.ts';
import { SamplingMonitor } from './monitor/sampling-monitor.ts';
import { observeTurns, type Observability } from './observe/observability.ts';
import { compose } from './pipeline/compose.ts';
import type { TurnContext } from './pipeline/turn.ts';
import { checkPlugins, createPlugins, pluginProblemsError, type MaiPlugin, type PluginContext } from './plugin.ts';
import { Selector } from './select/selector.ts';
import { Switcher } from './select/switcher.ts';
import { ReplyTimes } from './select/triggers.ts';
import { contextStage, fallbackStage, inferStage, monitorStage, selectStage } from './stages/index.ts';
import { defaultStateDir, MaiState } from './state.ts';
import type { Backend, Scorer } from './types.ts';

export interface RuntimeOptions {
  loaded: LoadedConfig;
  plugins: readonly MaiPlugin[];
  log: Logger;
  env?: Readonly<Record<string, string | undefined>>;
  /** Builds the resource monitor (the sampling one by default; tests pass a fixed one). */
  createMonitor?: (loaded: LoadedConfig, log: Logger) => ResourceMonitor;
  /** Keeps pin and counters across a reload. */
  state?: MaiState;
  /** Keeps the Prometheus counters across a reload (they only ever grow within a process). */
  metrics?: MaiMetrics;
}

export interface Runtime {
  readonly loaded: LoadedConfig;
  readonly catalog: Catalog;
  readonly monitor: ResourceMonitor;
  readonly selector: Selector;
  readonly scorers: readonly Scorer[];
  readonly store: ConversationStore;
  readonly state: MaiState;
  readonly cooldowns: Cooldowns;
  readonly queue: ModelQueue;
  readonly switcher: Switcher;
  /** The load each server reports (started with the monitor). */
  readonly load: LoadBoard;
  readonly router: ReplicaRouter;
  readonly locations: ReadonlyMap<string, Location>;
  readonly stateDir: string;
  /** Watches every turn for the ledger and the metrics (Mai.chat begins and ends each): core/observe/observability.ts. */
  readonly observability: Observability;
  readonly run: (turn: TurnContext) => Promise<void>;
  close(): Promise<void>;
}

export async function createRuntime(options: RuntimeOptions): Promise<Runtime> {
  const { loaded, log } = options;
  const config = loaded.config;
  const env = options.env ?? process.env;
  const stateDir = config.context.stateDir ? resolve(loaded.baseDir, config.context.stateDir) : defaultStateDir(env);
  const cooldowns = new Cooldowns(config.fallback);
  const context: Omit<PluginContext, 'name' | 'baseDir'> = { stateDir, env, log, cooldowns };

  // Every plugin of both sections is resolved and its options checked before any is created, so
  // one run reports every unknown name, missing module and wrong option together.
  const backendRefs = { kind: 'backend', section: 'backends', refs: config.backends, builtins: options.plugins, loaded, context } as const;
  const scorerRefs = { kind: 'scorer', section: 'scorers', refs: config.scorers, builtins: options.plugins, loaded, context } as const;
  const [checkedBackends, checkedScorers] = [await checkPlugins<BackendRef>(backendRefs), await checkPlugins<ScorerRef>(scorerRefs)];
  const problems = [...checkedBackends.problems, ...checkedScorers.problems];
  if (problems.length > 0) throw pluginProblemsError(loaded.file, problems);
  const backends = await createPlugins<Backend, BackendRef>(backendRefs, checkedBackends.checked);
  // Where each backend runs, and the load its server reports (sampled off the turn path).
  const locations = new Map(backends.map((b) => [b.instance.name, locate(b.ref.host, b.instance.endpoint)]));
  const probes: LoadProbe[] = backends.flatMap(({ instance }) =>
    instance.probeLoad ? [{ backend: instance.name, probe: instance.probeLoad.bind(instance) }] : [],
  );
  const board = new LoadBoard(probes, config.load, log.child('load'));
  const router = new ReplicaRouter({ board, parallelPerModel: config.fallback.parallelPerModel, cooldownMs: config.fallback.cooldownMs });
  let scorers: Array<{ ref: ScorerRef; instance: Scorer }>;
  try {
    scorers = await createPlugins<Scorer, ScorerRef>({ ...scorerRefs, context: { ...context, load: router } }, checkedScorers.checked);
  } catch (error) {
    await Promise.all(backends.map((b) => b.instance.close?.().catch(() => undefined)));
    throw error;
  }
  const catalog = new Catalog({ backends: backends.map((b) => b.instance), models: config.models, log: log.child('catalog'), locations });
  const selector = new Selector(
    scorers.map((s) => ({ scorer: s.instance, weight: s.ref.weight })),
    config.switching,
  );
  // What each backend says is loaded and holds, from the catalogue (kept fresh in the background).
  const loadedModels: LoadedModelsSource = () => {
    void catalog.ensure().catch(() => undefined);
    return catalog
      .list()
      .filter((m) => m.loaded)
      .map((m) => ({ model: m.id, backend: m.backend, memoryBytes: m.memoryBytes ?? null, vramBytes: m.vramBytes ?? null }));
  };
  const monitor = options.createMonitor
    ? options.createMonitor(loaded, log)
    : config.monitor.enabled
      ? new SamplingMonitor({ config: config.monitor, log: log.child('monitor'), loaded: loadedModels, gpuMemoFile: join(stateDir, 'gpus.json') })
      : new OsMonitor(loadedModels);
  const store = new ConversationStore(join(stateDir, 'conversations'), log.child('conversations'), { fsync: config.context.fsync });
  const state = options.state ?? new MaiState(stateDir, log);
  const backendOf = catalog.backendOf.bind(catalog);
  const coolingDown = (m: string) => cooldowns.coolingDown(m);
  const replyTimes = new ReplyTimes();
  const queue = new ModelQueue({ queueLimit: config.fallback.queueLimit, perModel: config.fallback.parallelPerModel, limitOf: (key) => router.limitOf(key) });
  board.onSample(() => queue.recheck());
  const switcher = new Switcher({
    catalog,
    monitor,
    config: config.switching,
    log: log.child('switch'),
    inUse: (m) => queue.inUse(m),
    preloadTimeoutMs: config.fallback.loadingFirstTokenTimeoutMs,
  });

  const observability = observeTurns({ ledger: config.ledger, stateDir, catalog, queue, monitor, metrics: options.metrics, log });

  // The onion, outer to inner. What each stage does before and after next():
  //
  //   monitor   before: puts the latest resource snapshot on the turn
  //   select    before: ranks every candidate and picks the model (hysteresis, pin)
  //             after:  records the model that answered as the current one (a switch when it changed)
  //   infer     after:  follows the plan (core/infer/attempt-runner.ts) until a model answers, streaming
  //                     deltas to the client; commits the answer through the transcript; sets the result
  //   fallback  before: hands infer the plan — the chain of models to try, retries, backoff, cooldowns
  //   context   before: hands infer the transcript — the history budgeted to each model tried, and commit
  //
  // infer sits outside fallback and context so that it runs once both have prepared the turn.
  const run = compose<TurnContext>([
    monitorStage({ monitor }),
    selectStage({
      catalog,
      selector,
      state,
      replyTimes,
      recentFailures: (m) => cooldowns.recentFailures(m),
      preload: { switcher, queue, fallback: config.fallback, coolingDown },
      log: log.child('select'),
    }),
    inferStage({
      backendOf,
      timeouts: config.fallback,
      queue,
      switcher,
      replicas: router,
      onAttempt(event) {
        if (event.ok) cooldowns.recordSuccess(event.model);
        else if (event.error?.retryable) cooldowns.recordFailure(event.model, event.at, `${event.error.code}: ${event.error.message}`);
        replyTimes.observe(event);
        for (const s of scorers) s.instance.observe?.(event);
      },
      onFallback(from, to, error) {
        state.counters.fallbacks++;
        log.info(`fallback ${from} → ${to}: ${error.message}`);
      },
    }),
    fallbackStage({ config: config.fallback, coolingDown }),
    contextStage({
      store,
      config: config.context,
      backendOf,
      models: () => catalog.list(),
      coolingDown: (m) => cooldowns.coolingDown(m),
      log: log.child('context'),
    }),
  ]);

  return {
    loaded,
    catalog,
    monitor,
    selector,
    scorers: scorers.map((s) => s.instance),
    store,
    state,
    cooldowns,
    queue,
    switcher,
    load: board,
    router,
    locations,
    stateDir,
    observability,
    run,
    async close() {
      board.close();
      await observability.close();
      switcher.cancelPreload();
      await switcher.settled();
      await monitor.close();
      await catalog.close();
      await store.settled(); // every turn already replied to is fsynced before Mai is gone
    },
  };
}
