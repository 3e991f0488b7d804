/**
 * Counts tokens for a given model: with its backend's tokenizer when it has one (llama.cpp's
 * /tokenize, a GGUF's own vocabulary), cached per model and text hash; else with the estimate.
 * A backend that cannot count is remembered, so it is asked once, not once per message. When a
 * backend reports the real prompt size of a prompt Mai estimated, the estimate for that model is
 * raised if it proved low (never lowered below the estimate itself).
 */
import { createHash } from 'node:crypto';
import { deadline } from '../deadline.ts';
import { isMaiError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Backend, CatalogModel } from '../types.ts';
import { estimateTokens } from './tokens.ts';

/** How long a tokenizer that failed for a passing reason is left alone. */
const PAUSE_MS = 30_000;

/** The tokenizer key counts by the estimate are stored under. */
export const ESTIMATE = 'estimate';

export interface Counter {
  /** Key of the tokenizer this counter uses: the model id, or "estimate". */
  readonly tokenizer: string;
  count(text: string): Promise<number>;
}

export interface TokenCounterOptions {
  backendOf: (model: CatalogModel) => Backend;
  /** How long one tokenizer call may take before the estimate is used instead. */
  timeoutMs?: number;
  /** Cached counts kept (oldest dropped first). */
  maxEntries?: number;
  log?: Logger;
}

export class TokenCounter {
  private readonly cache = new Map<string, number>();
  /** Models whose backend cannot count (asked once). */
  private readonly cannotCount = new Set<string>();
  /** Models whose tokenizer failed for a passing reason, until when. */
  private readonly pausedUntil = new Map<string, number>();
  /** Per model: how much to scale the estimate by, learnt from real prompt sizes (≥ 1). */
  private readonly correction = new Map<string, number>();
  private readonly timeoutMs: number;
  private readonly maxEntries: number;

  constructor(private readonly options: TokenCounterOptions) {
    this.timeoutMs = options.timeoutMs ?? 2_000;
    this.maxEntries = options.maxEntries ?? 20_000;
  }

  /** A counter for `model` (null: the plain estimate). */
  for(model: CatalogModel | null, signal?: AbortSignal): Counter {
    if (!model) return { tokenizer: ESTIMATE, count: async (text) => estimateTokens(text) };
    const backend = this.options.backendOf(model);
    const scale = this.correction.get(model.id) ?? 1;
    const estimate = (text: string) => Math.ceil(estimateTokens(text) * scale);
    if (!backend.countTokens || this.cannotCount.has(model.id)) return { tokenizer: ESTIMATE, count: async (text) => estimate(text) };
    const counter: Counter & { tokenizer: string } = {
      tokenizer: model.id,
      count: async (text) => {
        if (text === '') return 0;
        if (this.cannotCount.has(model.id) || (this.pausedUntil.get(model.id) ?? 0) > Date.now()) return estimate(text);
        const key = this.key(model, text);
        const hit = this.cache.get(key);
        if (hit !== undefined) {
          this.cache.delete(key);
          this.cache.set(key, hit);
          return hit;
        }
        const limit = deadline(this.timeoutMs, signal);
        try {
          const n = await backend.countTokens!(model.backendModelId, text, limit.signal);
          this.remember(key, n);
          return n;
        } catch (error) {
          if (signal?.aborted) throw error;
          if (isMaiError(error) && !error.retryable) {
            // The backend has no tokenizer for it: asked once, estimated from now on.
            this.cannotCount.add(model.id);
            counter.tokenizer = ESTIMATE;
            this.options.log?.debug(`${model.id}: no tokenizer (${error.message}); estimating`);
          } else {
            // A passing failure (timeout, connection): estimate for a while, then ask again.
            this.pausedUntil.set(model.id, Date.now() + PAUSE_MS);
            this.options.log?.debug(`${model.id}: its tokenizer failed (${(error as Error).message}); estimating for ${PAUSE_MS / 1000} s`);
          }
          return estimate(text);
        } finally {
          limit.clear();
        }
      },
    };
    return counter;
  }

  /** Remembers a count already known for `model` (stored with the message), so its tokenizer is not asked again. */
  seed(model: CatalogModel, text: string, tokens: number): void {
    this.remember(this.key(model, text), tokens);
  }

  /** Whether counts for `model` come from the estimate. */
  estimates(model: CatalogModel): boolean {
    return !this.options.backendOf(model).countTokens || this.cannotCount.has(model.id);
  }

  /** Learns from a backend's real prompt size for a prompt Mai estimated at `estimated` tokens. */
  observe(model: CatalogModel, estimated: number, actual: number): void {
    if (!this.estimates(model) || estimated <= 0 || actual <= estimated) return;
    const ratio = Math.min(4, actual / estimated);
    const previous = this.correction.get(model.id) ?? 1;
    this.correction.set(model.id, Math.min(4, Math.max(previous, previous * ratio)));
    this.options.log?.info(`${model.id}: its prompts were ${Math.round((ratio - 1) * 100)} % larger than estimated; estimating higher for it`);
  }

  private key(model: CatalogModel, text: string): string {
    return `${model.id}\u0000${createHash('sha1').update(text).digest('base64')}`;
  }

  private remember(key: string, n: number): void {
    this.cache.set(key, n);
    if (this.cache.size > this.maxEntries) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
  }
}
