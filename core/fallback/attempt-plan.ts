/**
 * The fallback policy as a plan the infer stage follows: which model first, and after a failure,
 * whether to retry the same model (transient errors, with backoff; a 429 after its Retry-After, up
 * to a cap) or move down the chain: the config's chain for the chosen model, then every other
 * fitting model, most capable first; models cooling down after repeated failures after those; and
 * last, models that do not fit, smallest first (minimal-resource mode) — only when all of them
 * failed does the turn fail. A context overflow moves to a model with a larger window, or, when
 * there is none, retries the same model with its prompt compressed to a smaller window. A bad
 * request is not retried. The switch dwell time never applies here: a fallback is never blocked.
 */
import type { FallbackConfig } from '../config/schema.ts';
import { ErrorCodes, type MaiError } from '../errors.ts';
import type { RankedModel } from '../select/ranking.ts';
import { estimateMemory, tierOf } from '../select/memory-estimate.ts';
import type { CatalogModel } from '../types.ts';

/** One step of the attempt plan: which model, after how long a wait. */
export interface AttemptStep {
  model: CatalogModel;
  delayMs: number;
  /** Same model again after a transient error. */
  retry: boolean;
}

/** The fallback stage's policy, handed to infer: the first step, then the next one after each failure. */
export interface AttemptPlan {
  first(): AttemptStep | null;
  next(failed: CatalogModel, error: MaiError): AttemptStep | null;
}

export interface PlanInput {
  chosen: CatalogModel;
  ranking: readonly RankedModel[];
  config: Pick<FallbackConfig, 'chains' | 'auto' | 'retries' | 'backoffMs' | 'retryAfterCapMs'>;
  /** True while a model cools down after repeated failures (tried after the others). */
  coolingDown?: (model: string) => boolean;
}

/** Errors worth another try on the same model, after a backoff, before moving on. */
const transient = new Set<string>([ErrorCodes.serverError, ErrorCodes.unreachable]);
/** On an overflow with no larger window left, the same model is tried once with this share of the window it had. */
export const COMPRESS_SHARE = 0.5;

/** The order models are tried in after `chosen`. */
export function fallbackOrder(input: PlanInput): CatalogModel[] {
  // A model that cannot run here (its runtime is missing or not permitted) is never tried.
  const entries = new Map(input.ranking.flatMap((r, index) => (r.model.unavailable ? [] : [[r.model.id, { r, index }] as const])));
  const cooling = input.coolingDown ?? (() => false);
  const chain = (input.config.chains[input.chosen.id] ?? []).flatMap((id) => {
    const e = entries.get(id);
    return e ? [e] : [];
  });
  const pool = input.config.auto ? [...entries.values()] : chain;
  const seen = new Set<string>([input.chosen.id]);
  const take = (list: Array<{ r: RankedModel; index: number }>) =>
    list.flatMap(({ r }) => {
      if (seen.has(r.model.id)) return [];
      seen.add(r.model.id);
      return [r.model];
    });
  const byCapability = (a: { r: RankedModel; index: number }, b: { r: RankedModel; index: number }) => tierOf(b.r.model) - tierOf(a.r.model) || a.index - b.index;
  const bySize = (a: { r: RankedModel; index: number }, b: { r: RankedModel; index: number }) =>
    tierOf(a.r.model) - tierOf(b.r.model) || estimateMemory(a.r.model) - estimateMemory(b.r.model) || a.index - b.index;
  const fitting = (e: { r: RankedModel }) => e.r.fits && !cooling(e.r.model.id);
  return [
    // 1. the config chain (those that fit), in its order
    ...take(chain.filter(fitting)),
    // 2. every other fitting model, most capable first
    ...take(pool.filter(fitting).sort(byCapability)),
    // 3. fitting but cooling down
    ...take(pool.filter((e) => e.r.fits).sort(byCapability)),
    // 4. minimal-resource: what does not fit, smallest first
    ...take([...pool].sort(bySize)),
  ];
}

/** A window size a server's overflow error states ("context size (2048 tokens)", "n_ctx": 2048), if any. */
export function statedWindow(error: MaiError): number | undefined {
  const text = `${error.message} ${typeof error.data?.body === 'string' ? error.data.body : ''}`;
  const match = /n_ctx"?\s*[:=]\s*(\d+)|context (?:size|length|window) (?:is |of )?\(?(\d+)/i.exec(text);
  const value = Number(match?.[1] ?? match?.[2]);
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

export function createAttemptPlan(input: PlanInput): AttemptPlan {
  const order = fallbackOrder(input);
  const retries = new Map<string, number>();
  const compressed = new Set<string>();
  const tried = new Set<string>([input.chosen.id]);

  const moveOn = (filter: (m: CatalogModel) => boolean = () => true): AttemptStep | null => {
    const model = order.find((m) => !tried.has(m.id) && filter(m));
    if (!model) return null;
    tried.add(model.id);
    return { model, delayMs: 0, retry: false };
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
      } else if (error.code === ErrorCodes.contextOverflow) {
        // `failed` carries the window its prompt was built for (a smaller one after compressing).
        const larger = moveOn((m) => m.contextLength > failed.contextLength);
        if (larger) return larger;
        if (!compressed.has(failed.id)) {
          compressed.add(failed.id);
          const stated = statedWindow(error);
          const window = stated !== undefined && stated < failed.contextLength ? stated : Math.floor(failed.contextLength * COMPRESS_SHARE);
          // The same model, its prompt budgeted (compressed) for the smaller window.
          return { model: { ...failed, contextLength: Math.max(1, window) }, delayMs: 0, retry: true };
        }
      }
      return moveOn();
    },
  };
}
