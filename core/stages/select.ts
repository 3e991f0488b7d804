/**
 * select — works before next() (rank every candidate, choose one with hysteresis, the proactive
 * triggers or the pin) and after it (the model that really answered becomes the current one; a
 * change is a switch, recorded with its reason in status.lastSwitch — never in the reply). Then,
 * while nothing else runs, it preloads the model the next turn would fall back to.
 */
import type { Catalog } from '../catalog.ts';
import type { FallbackConfig } from '../config/schema.ts';
import { fallbackOrder } from '../fallback/attempt-plan.ts';
import type { ModelQueue } from '../fallback/model-queue.ts';
import type { Logger } from '../log.ts';
import { osSnapshot } from '../monitor/resource-monitor.ts';
import type { Middleware } from '../pipeline/compose.ts';
import type { TurnContext } from '../pipeline/turn.ts';
import type { Selector } from '../select/selector.ts';
import type { Switcher } from '../select/switcher.ts';
import type { ReplyTimes } from '../select/triggers.ts';
import type { MaiState } from '../state.ts';

export interface SelectStageOptions {
  catalog: Catalog;
  selector: Selector;
  state: MaiState;
  /** Recent reply times per model (the slow-reply trigger). */
  replyTimes?: ReplyTimes;
  /** Failures per model within the failure window (the repeated-failures trigger). */
  recentFailures?: (model: string) => number;
  /**
   * Switching after a turn: the switcher preloads (when the queue says Mai is idle) the model the
   * fallback config's chain would move to, and unloads a model left because memory ran short.
   */
  preload?: { switcher: Switcher; queue: ModelQueue; fallback: FallbackConfig; coolingDown?: (model: string) => boolean };
  log?: Logger;
}

export function selectStage(options: SelectStageOptions): Middleware<TurnContext> {
  const { catalog, selector, state } = options;
  return async function select(turn, next) {
    await catalog.ensure();
    const resources = turn.resources ?? osSnapshot();
    turn.ranking = selector.rank({ catalog: catalog.list(), resources, needs: turn.needs, current: state.current });
    const current = state.current;
    // A model the turn names, else the pin; `id@backend` also names the server to try first.
    const pin = turn.request.model !== undefined ? catalog.splitRef(turn.request.model) : { model: state.pinned, replica: state.pinnedReplica };
    const choice = selector.choose(turn.ranking, {
      pinned: pin.model,
      current,
      currentSince: state.currentSince,
      resources,
      ...(current && options.replyTimes ? { replyMs: options.replyTimes.of(current) } : {}),
      ...(current && options.recentFailures ? { recentFailures: options.recentFailures(current) } : {}),
      ...(options.preload?.coolingDown ? { coolingDown: options.preload.coolingDown } : {}),
    });
    turn.model = choice.model;
    if (pin.replica && choice.reason === 'pinned') turn.replica = { model: choice.model.id, backend: pin.replica };
    turn.observe?.({ kind: 'chosen', model: choice.model, reason: `${choice.reason}: ${choice.detail}`, previous: current });
    if (choice.model.id !== current) options.log?.debug(`turn ${turn.id}: ${choice.model.id} (${choice.reason}: ${choice.detail})`);
    await next();
    const result = turn.result;
    if (!result) return;
    const failed = turn.attempts.find((a) => a.error);
    const reason =
      result.model === choice.model.id
        ? `${choice.reason}: ${choice.detail}`
        : `fallback from ${choice.model.id}${failed?.error ? ` (${failed.error.code}: ${failed.error.message})` : ''}`;
    state.answeredBy(result.model, reason);
    // Moved off a model because memory ran short: it must go, or the pressure stays.
    const previous = current ? turn.ranking.find((r) => r.model.id === current)?.model : undefined;
    if (previous && result.model === choice.model.id && choice.triggers?.some((t) => t.kind === 'memory-high')) {
      void options.preload?.switcher.release(previous);
    }
    preloadNext(turn, result.model);
  };

  /** While idle, load the model the next turn would fall back to (when it fits beside the current one). */
  function preloadNext(turn: TurnContext, answeredBy: string): void {
    const p = options.preload;
    const chosen = turn.ranking?.find((r) => r.model.id === answeredBy)?.model;
    if (!p || !chosen || !turn.ranking || !p.queue.idle()) return;
    const order = fallbackOrder({ chosen, ranking: turn.ranking, config: p.fallback, ...(p.coolingDown ? { coolingDown: p.coolingDown } : {}) });
    const target = order.find((m) => turn.ranking!.find((r) => r.model === m)?.fits);
    if (target && !target.loaded && p.switcher.preload(target)) options.log?.debug(`preloading ${target.id}, the fallback for ${answeredBy}`);
  }
}
