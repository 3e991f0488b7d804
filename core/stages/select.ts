/**
 * select — works before next() (rank every candidate, choose one with hysteresis or the pin)
 * and after it (the model that really answered becomes the current one; a change is a switch).
 */
import type { Catalog } from '../catalog.ts';
import { osSnapshot } from '../monitor/resource-monitor.ts';
import type { Middleware } from '../pipeline/compose.ts';
import type { TurnContext } from '../pipeline/turn.ts';
import type { Selector } from '../select/selector.ts';
import type { MaiState } from '../state.ts';

export interface SelectStageOptions {
  catalog: Catalog;
  selector: Selector;
  state: MaiState;
}

export function selectStage(options: SelectStageOptions): Middleware<TurnContext> {
  const { catalog, selector, state } = options;
  return async function select(turn, next) {
    await catalog.ensure();
    turn.ranking = selector.rank({
      catalog: catalog.list(),
      resources: turn.resources ?? osSnapshot(),
      needs: turn.needs,
      current: state.current,
    });
    const choice = selector.choose(turn.ranking, {
      pinned: turn.request.model ?? state.pinned,
      current: state.current,
      currentSince: state.currentSince,
    });
    turn.model = choice.model;
    await next();
    const result = turn.result;
    if (result) {
      const reason = result.model === choice.model.id ? choice.reason : `fallback from ${choice.model.id}`;
      state.answeredBy(result.model, reason);
    }
  };
}
