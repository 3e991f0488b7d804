/**
 * Makes a model ready before a turn uses it, silently: when it does not fit beside what is loaded,
 * unload what must go (where the backend allows), wait until that memory really shows up as free
 * (polling the monitor, bounded by `unloadWaitMs`), then load the model (where the backend can;
 * else it loads on first use, under the longer first-token timeout). While idle it preloads the
 * model the next turn would fall back to, when that fits beside the current one.
 */
import type { SwitchingConfig } from '../config/schema.ts';
import { MaiError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { ResourceMonitor } from '../monitor/resource-monitor.ts';
import type { Backend, CatalogModel, ResourceSnapshot } from '../types.ts';
import { defaultMemoryRules, estimateMemory, heldBytes, usableBytes, type MemoryRules } from './memory-estimate.ts';

/** What the switcher needs of the catalogue. */
export interface SwitcherCatalog {
  list(): readonly CatalogModel[];
  backendOf(model: CatalogModel): Backend;
  markLoaded(id: string, loaded: boolean): void;
}

export interface SwitcherOptions {
  catalog: SwitcherCatalog;
  monitor: ResourceMonitor;
  config: Pick<SwitchingConfig, 'unloadWaitMs' | 'preload'>;
  log: Logger;
  rules?: MemoryRules;
  /** True while a turn runs on a model: it is never unloaded then. */
  inUse?: (model: string) => boolean;
  /** How often to look at memory while waiting for an unload to show. */
  pollMs?: number;
  /** The longest a background preload may take (default 120 s, like loadingFirstTokenTimeoutMs). */
  preloadTimeoutMs?: number;
}

export interface Preparation {
  unloaded: string[];
  loaded: boolean;
  /** How long the wait for unloaded memory took; `freed` whether it showed up within the bound. */
  waitedMs: number;
  freed: boolean;
}

export type SwitchAction = { kind: 'unload' | 'load' | 'preload'; model: string; at: number; ok: boolean; error?: string };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Switcher {
  private readonly rules: MemoryRules;
  private preloading: { model: string; controller: AbortController; done: Promise<void> } | null = null;
  /** The last actions taken, newest last (for status and tests). */
  readonly actions: SwitchAction[] = [];

  constructor(private readonly options: SwitcherOptions) {
    this.rules = options.rules ?? defaultMemoryRules;
  }

  private record(action: Omit<SwitchAction, 'at'>): void {
    this.actions.push({ ...action, at: Date.now() });
    if (this.actions.length > 50) this.actions.shift();
  }

  /** Unloads what must go and loads `model`, so the turn can use it. Load failures throw (the turn falls back). */
  async prepare(model: CatalogModel, signal: AbortSignal): Promise<Preparation> {
    const result: Preparation = { unloaded: [], loaded: false, waitedMs: 0, freed: true };
    if (model.loaded) return result;
    const preload = this.preloading;
    if (preload?.model === model.id) {
      // The preload of this very model is under way: wait for it, as long as the turn may.
      const onAbort = () => preload.controller.abort();
      signal.addEventListener('abort', onAbort, { once: true });
      await preload.done.finally(() => signal.removeEventListener('abort', onAbort));
      if (model.loaded) return result;
    }
    const { catalog } = this.options;
    const backend = catalog.backendOf(model);
    const needed = estimateMemory(model, this.rules);
    const before = await this.options.monitor.current();
    const usable = usableBytes(before, 0, this.rules);
    // Another host's memory is not this machine's: nothing here is unloaded for it.
    if (model.local !== false && usable !== null && needed > usable) {
      this.cancelPreload();
      const victims = this.victims(model, needed, before);
      let expected = 0;
      for (const victim of victims) {
        const victimBackend = catalog.backendOf(victim);
        try {
          await victimBackend.unload!(victim.backendModelId, signal);
          expected += heldBytes(victim);
          catalog.markLoaded(victim.id, false);
          result.unloaded.push(victim.id);
          this.record({ kind: 'unload', model: victim.id, ok: true });
        } catch (error) {
          const failure = MaiError.from(error);
          this.record({ kind: 'unload', model: victim.id, ok: false, error: failure.message });
          this.options.log.warn(`could not unload ${victim.id} to make room for ${model.id}: ${failure.message}`);
        }
      }
      if (expected > 0) Object.assign(result, await this.waitForFree(before, expected, needed, signal));
    }
    if (backend.load) {
      try {
        await backend.load(model.backendModelId, { contextSize: model.contextLength, signal });
      } catch (error) {
        const failure = MaiError.from(error);
        this.record({ kind: 'load', model: model.id, ok: false, error: failure.message });
        throw failure;
      }
      catalog.markLoaded(model.id, true);
      result.loaded = true;
      this.record({ kind: 'load', model: model.id, ok: true });
    }
    return result;
  }

  /** Loaded models to unload for `model` to fit: not in use, unloadable, the biggest first, only as many as needed. */
  private victims(model: CatalogModel, needed: number, resources: ResourceSnapshot): CatalogModel[] {
    const { catalog, inUse } = this.options;
    const candidates = catalog
      .list()
      .filter((m) => m.loaded && m.id !== model.id && !inUse?.(m.id) && typeof catalog.backendOf(m).unload === 'function')
      .sort((a, b) => heldBytes(b) - heldBytes(a));
    const chosen: CatalogModel[] = [];
    let reclaim = 0;
    for (const m of candidates) {
      if ((usableBytes(resources, reclaim, this.rules) ?? Infinity) >= needed) break;
      chosen.push(m);
      reclaim += heldBytes(m);
    }
    return chosen;
  }

  /** Polls fresh samples until the unloaded memory shows as free (or the model fits), at most unloadWaitMs. */
  private async waitForFree(before: ResourceSnapshot, expected: number, needed: number, signal: AbortSignal): Promise<Pick<Preparation, 'waitedMs' | 'freed'>> {
    const started = Date.now();
    const bound = this.options.config.unloadWaitMs;
    const pollMs = this.options.pollMs ?? 200;
    const baseline = before.memFreeBytes;
    while (!signal.aborted) {
      const remaining = bound - (Date.now() - started);
      const now = await this.options.monitor.sample(Math.max(50, Math.min(remaining, 1_500)));
      const usable = usableBytes(now, 0, this.rules);
      const gained = baseline !== null && now.memFreeBytes !== null ? now.memFreeBytes - baseline : null;
      // Freed: most of what the unloaded models held came back, or the new model simply fits now.
      if ((gained !== null && gained >= 0.8 * expected) || (usable !== null && usable >= needed)) return { waitedMs: Date.now() - started, freed: true };
      if (gained === null && usable === null) break; // memory cannot be read: nothing to wait for
      const left = bound - (Date.now() - started);
      if (left <= 0) break;
      await sleep(Math.min(pollMs, left));
    }
    const waitedMs = Date.now() - started;
    this.options.log.info(`unloaded memory did not show as free within ${bound} ms; loading anyway`);
    return { waitedMs, freed: false };
  }

  /** Unloads a model Mai moved away from under memory pressure (not while a turn uses it). */
  async release(model: CatalogModel): Promise<boolean> {
    const backend = this.options.catalog.backendOf(model);
    if (!model.loaded || !backend.unload || this.options.inUse?.(model.id)) return false;
    try {
      await backend.unload(model.backendModelId);
      this.options.catalog.markLoaded(model.id, false);
      this.record({ kind: 'unload', model: model.id, ok: true });
      return true;
    } catch (error) {
      this.record({ kind: 'unload', model: model.id, ok: false, error: MaiError.from(error).message });
      return false;
    }
  }

  /** Loads `model` in the background when it fits beside what is loaded and its backend can load; no-op otherwise. */
  preload(model: CatalogModel | undefined): boolean {
    if (!model || model.loaded || !this.options.config.preload || this.preloading) return false;
    const backend = this.options.catalog.backendOf(model);
    if (!backend.load) return false;
    const usable = usableBytes(this.options.monitor.latest(), 0, this.rules);
    if (model.local !== false && (usable === null || estimateMemory(model, this.rules) > usable)) return false;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.options.preloadTimeoutMs ?? 120_000);
    timer.unref?.();
    const done = backend
      .load(model.backendModelId, { contextSize: model.contextLength, signal: controller.signal })
      .then(
        () => {
          this.options.catalog.markLoaded(model.id, true);
          this.record({ kind: 'preload', model: model.id, ok: true });
        },
        (error: unknown) => {
          this.record({ kind: 'preload', model: model.id, ok: false, error: MaiError.from(error).message });
        },
      )
      .finally(() => {
        clearTimeout(timer);
        if (this.preloading?.controller === controller) this.preloading = null;
      });
    this.preloading = { model: model.id, controller, done };
    return true;
  }

  cancelPreload(): void {
    this.preloading?.controller.abort();
  }

  /** Waits for a preload in flight (tests, shutdown). */
  async settled(): Promise<void> {
    await this.preloading?.done;
  }
}
