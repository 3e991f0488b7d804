/**
 * The fallback policy as a plan the infer stage follows: which model first, and after a failure,
 * whether to retry the same model (with backoff, or after Retry-After up to a cap) or move down the
 * chain (config chain first, then every other candidate, most capable first).
 */
import type { FallbackConfig } from '../config/schema.ts';
import { ErrorCodes, type MaiError } from '../errors.ts';
import type { AttemptPlan, AttemptStep, RankedModel } from '../pipeline/turn.ts';
import type { CatalogModel } from '../types.ts';

export interface PlanInput {
  chosen: CatalogModel;
  ranking: readonly RankedModel[];
  config: FallbackConfig;
  /** True while a model cools down after repeated failures (skipped unless nothing else is left). */
  coolingDown?: (model: string) => boolean;
  /** A model named by the request or pinned: no silent move to another model on errors the client caused. */
  pinned?: boolean;
}

const tierRank = { small: 0, medium: 1, large: 2 } as const;
/** Errors worth another try on the same model before moving on. */
const transient = new Set<string>([ErrorCodes.serverError, ErrorCodes.streamCut, ErrorCodes.emptyReply, ErrorCodes.unreachable]);

/** The order models are tried in after `chosen`. */
export function fallbackOrder(input: PlanInput): CatalogModel[] {
  const byId = new Map(input.ranking.map((r) => [r.model.id, r.model]));
  const seen = new Set([input.chosen.id]);
  const order: CatalogModel[] = [];
  const add = (m: CatalogModel | undefined) => {
    if (m && !seen.has(m.id)) {
      seen.add(m.id);
      order.push(m);
    }
  };
  for (const id of input.config.chains[input.chosen.id] ?? []) add(byId.get(id));
  if (input.config.auto) {
    const rest = input.ranking
      .map((r, index) => ({ r, index }))
      .sort(
        (a, b) =>
          Number(b.r.fits) - Number(a.r.fits) || tierRank[b.r.model.tier] - tierRank[a.r.model.tier] || a.index - b.index,
      );
    for (const { r } of rest) add(r.model);
  }
  const cooling = input.coolingDown ?? (() => false);
  // Cooling models go last: a fallback is never blocked by a cooldown, only postponed.
  return [...order.filter((m) => !cooling(m.id)), ...order.filter((m) => cooling(m.id))];
}

export function createAttemptPlan(input: PlanInput): AttemptPlan {
  const order = fallbackOrder(input);
  const retries = new Map<string, number>();
  let position = -1;
  const moveOn = (error: MaiError): AttemptStep | null => {
    const overflow = error.code === ErrorCodes.contextOverflow;
    while (++position < order.length) {
      const model = order[position]!;
      // A context overflow only moves to a model whose window is at least as large… unless none is left.
      if (overflow && model.contextLength < input.chosen.contextLength && order.slice(position).some((m) => m.contextLength >= input.chosen.contextLength)) {
        order.push(model);
        continue;
      }
      return { model, delayMs: 0, retry: false };
    }
    return null;
  };
  return {
    first: () => ({ model: input.chosen, delayMs: 0, retry: false }),
    next(failed, error) {
      if (!error.retryable) return null;
      const used = retries.get(failed.id) ?? 0;
      if (error.code === ErrorCodes.rateLimited) {
        const retryAfterMs = typeof error.data?.retryAfterMs === 'number' ? error.data.retryAfterMs : input.config.backoffMs;
        if (used < input.config.retries && retryAfterMs <= input.config.retryAfterCapMs) {
          retries.set(failed.id, used + 1);
          return { model: failed, delayMs: retryAfterMs, retry: true };
        }
      } else if (transient.has(error.code) && used < input.config.retries) {
        retries.set(failed.id, used + 1);
        return { model: failed, delayMs: input.config.backoffMs * 2 ** used, retry: true };
      }
      return moveOn(error);
    },
  };
}
