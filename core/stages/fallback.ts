/**
 * fallback — works before next(). It sits inside infer, so it cannot wrap the inference with a
 * try/catch; instead it hands infer the plan to follow (core/fallback/attempt-plan.ts): the chain
 * (config, then every fitting model, most capable first, then cooling ones, then minimal-resource),
 * bounded retries with backoff, Retry-After up to a cap, overflow to a larger window or a
 * compressed prompt. It never consults the switch dwell time: a fallback is never blocked.
 */
import type { FallbackConfig } from '../config/schema.ts';
import { createAttemptPlan } from '../fallback/attempt-plan.ts';
import type { Middleware } from '../pipeline/compose.ts';
import type { TurnContext } from '../pipeline/turn.ts';

export interface FallbackStageOptions {
  config: FallbackConfig;
  coolingDown?: (model: string) => boolean;
}

export function fallbackStage(options: FallbackStageOptions): Middleware<TurnContext> {
  return async function fallback(turn, next) {
    if (turn.model && turn.ranking) {
      turn.plan = createAttemptPlan({
        chosen: turn.model,
        ranking: turn.ranking,
        config: options.config,
        ...(options.coolingDown ? { coolingDown: options.coolingDown } : {}),
      });
    }
    await next();
  };
}
