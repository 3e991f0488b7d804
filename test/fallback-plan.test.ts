import { describe, expect, it } from 'vitest';
import { ErrorCodes, MaiError } from '../core/errors.ts';
import { createAttemptPlan, fallbackOrder, statedWindow } from '../core/fallback/attempt-plan.ts';
import type { RankedModel } from '../core/select/ranking.ts';
import type { CatalogModel, Tier } from '../core/types.ts';
import { GiB } from '../core/select/memory-estimate.ts';
import { catalogModel } from './support/catalog-model.ts';
import { SwitchingConfig } from '../core/config/schema.ts';
import { Selector } from '../core/select/selector.ts';
const config = { chains: {} as Record<string, string[]>, auto: true, retries: 1, backoffMs: 100, retryAfterCapMs: 5_000 };

function model(id: string, tier: Tier, over: Partial<CatalogModel> = {}): CatalogModel {
  return catalogModel(id, { tier, sizeBytes: { small: 1, medium: 5, large: 20 }[tier] * GiB, ...over });
}
const ranked = (m: CatalogModel, fits = true, score = 0.5): RankedModel => ({ model: m, fits, score, vetoes: fits ? [] : ['resource-fit: too big'], reasons: [], scores: {} });
const err = (code: (typeof ErrorCodes)[keyof typeof ErrorCodes], data?: Record<string, unknown>) => new MaiError(code, code, data ? { data } : {});

describe('the fallback order', () => {
  const large = model('large', 'large');
  const medium = model('medium', 'medium');
  const medium2 = model('medium2', 'medium');
  const small = model('small', 'small');
  const huge = model('huge', 'large', { sizeBytes: 80 * GiB });
  const tiny = model('tiny', 'small', { sizeBytes: 0.5 * GiB });
  const ranking = [ranked(medium2, true, 0.9), ranked(large), ranked(small), ranked(medium), ranked(huge, false), ranked(tiny, false)];

  it('automatic: every fitting model most capable first (ranking order within a tier), then what does not fit, smallest first', () => {
    expect(fallbackOrder({ chosen: large, ranking, config }).map((m) => m.id)).toEqual(['medium2', 'medium', 'small', 'tiny', 'huge']);
  });

  it('a model that cannot run here (its runtime is missing or not permitted) is never in the order, not even as a last resort', () => {
    const ffi = model('gguf-tiny', 'small', { sizeBytes: 0.1 * GiB, unavailable: "node-llama-cpp's native addon needs Deno's --allow-ffi permission" });
    const order = fallbackOrder({ chosen: large, ranking: [...ranking, ranked(ffi, false)], config: { ...config, chains: { large: ['gguf-tiny'] } } });
    expect(order.map((m) => m.id)).toEqual(['medium2', 'medium', 'small', 'tiny', 'huge']);
  });

  it("the config's chain comes first; models cooling down go after the fitting ones", () => {
    const order = fallbackOrder({ chosen: large, ranking, config: { ...config, chains: { large: ['small', 'nope', 'medium'] } }, coolingDown: (id) => id === 'medium2' });
    expect(order.map((m) => m.id)).toEqual(['small', 'medium', 'medium2', 'tiny', 'huge']);
  });

  it('auto: false keeps to the chain', () => {
    expect(fallbackOrder({ chosen: large, ranking, config: { ...config, auto: false, chains: { large: ['small'] } } }).map((m) => m.id)).toEqual(['small']);
  });
});

describe('the attempt plan', () => {
  const a = model('a', 'large', { contextLength: 4096 });
  const b = model('b', 'medium', { contextLength: 8192 });
  const c = model('c', 'small', { contextLength: 2048 });
  const ranking = [ranked(a), ranked(b), ranked(c)];
  const plan = (over: Partial<typeof config> = {}) => createAttemptPlan({ chosen: a, ranking, config: { ...config, ...over } });

  it('transient errors: bounded retries of the same model with exponential backoff, then the next model', () => {
    const p = plan({ retries: 2 });
    expect(p.first()).toMatchObject({ model: a, delayMs: 0 });
    expect(p.next(a, err(ErrorCodes.serverError))).toMatchObject({ model: a, delayMs: 100, retry: true });
    expect(p.next(a, err(ErrorCodes.serverError))).toMatchObject({ model: a, delayMs: 200, retry: true });
    expect(p.next(a, err(ErrorCodes.serverError))).toMatchObject({ model: b, delayMs: 0, retry: false });
    expect(p.next(b, err(ErrorCodes.unreachable))).toMatchObject({ model: b, delayMs: 100 });
    expect(p.next(b, err(ErrorCodes.unreachable))).toMatchObject({ model: b, delayMs: 200 });
    expect(p.next(b, err(ErrorCodes.unreachable))).toMatchObject({ model: c });
    expect(p.next(c, err(ErrorCodes.timeout))).toBeNull();
  });

  it('a timeout, a cut stream or an empty reply moves on at once', () => {
    for (const code of [ErrorCodes.timeout, ErrorCodes.streamCut, ErrorCodes.emptyReply, ErrorCodes.modelNotFound]) {
      expect(plan().next(a, err(code))).toMatchObject({ model: b, delayMs: 0 });
    }
  });

  it('rate-limited: honours Retry-After up to the cap, else moves on; without one, the backoff', () => {
    expect(plan().next(a, err(ErrorCodes.rateLimited, { retryAfterMs: 2_000 }))).toMatchObject({ model: a, delayMs: 2_000, retry: true });
    expect(plan().next(a, err(ErrorCodes.rateLimited, { retryAfterMs: 60_000 }))).toMatchObject({ model: b, delayMs: 0 });
    expect(plan().next(a, err(ErrorCodes.rateLimited))).toMatchObject({ model: a, delayMs: 100 });
    const p = plan();
    p.next(a, err(ErrorCodes.rateLimited, { retryAfterMs: 10 }));
    expect(p.next(a, err(ErrorCodes.rateLimited, { retryAfterMs: 10 }))).toMatchObject({ model: b });
  });

  it('a bad request (or anything not retryable) ends the plan', () => {
    expect(plan().next(a, err(ErrorCodes.badRequest))).toBeNull();
    expect(plan().next(a, new MaiError(ErrorCodes.serverError, 'x', { retryable: false }))).toBeNull();
  });

  it('context overflow: a model with a larger window first', () => {
    expect(plan().next(a, err(ErrorCodes.contextOverflow))).toMatchObject({ model: b });
  });

  it('context overflow with no larger window: the same model once, compressed to the window the server states (else half)', () => {
    const solo = createAttemptPlan({ chosen: b, ranking, config });
    const stated = solo.next(b, new MaiError(ErrorCodes.contextOverflow, 'x', { data: { body: '{"message":"the request exceeds the available context size (3000 tokens)","n_ctx":3000}' } }));
    expect(stated?.model).toMatchObject({ id: 'b', contextLength: 3000 });
    expect(stated?.retry).toBe(true);
    // A second overflow: no second compression; the rest of the chain (smaller windows budget smaller prompts).
    expect(solo.next(stated!.model, err(ErrorCodes.contextOverflow))).toMatchObject({ model: a });
    const half = createAttemptPlan({ chosen: b, ranking: [ranked(b)], config });
    expect(half.next(b, err(ErrorCodes.contextOverflow))?.model.contextLength).toBe(4096);
    expect(half.next(b, err(ErrorCodes.contextOverflow))).toBeNull();
  });

  it('reads the window out of llama.cpp, vLLM and OpenAI style overflow messages', () => {
    const e = (message: string) => new MaiError(ErrorCodes.contextOverflow, message);
    expect(statedWindow(e('the request exceeds the available context size (2048 tokens), try increasing it'))).toBe(2048);
    expect(statedWindow(e("This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens."))).toBe(8192);
    expect(statedWindow(e('prompt is too long'))).toBeUndefined();
    expect(statedWindow(e('{"n_ctx": 4096}'))).toBe(4096);
  });
});

describe('models that cannot run here', () => {
  const why = "node-llama-cpp's native addon needs Deno's --allow-ffi permission";
  const selector = new Selector([], SwitchingConfig.parse({}));
  const resources = { cpuLoad: 0.1, memFreeBytes: 16 * GiB, memTotalBytes: 24 * GiB, gpus: [], sampledAt: Date.now() };
  const needs = { capabilities: ['chat' as const], minPromptTokens: 10, fullPromptTokens: 10, replyTokens: 100 };

  it('are vetoed whatever the scorers say, with the reason once; a pin on one is refused with it', () => {
    const ranking = selector.rank({ catalog: [model('gguf', 'small', { unavailable: why }), model('http', 'medium')], resources, needs, current: null });
    expect(ranking.map((r) => [r.model.id, r.fits])).toEqual([['http', true], ['gguf', false]]);
    expect(ranking[1]!.vetoes).toEqual([`cannot run here: ${why}`]);
    expect(selector.choose(ranking, { pinned: null, current: null }).model.id).toBe('http');
    expect(() => selector.choose(ranking, { pinned: 'gguf', current: null })).toThrow(expect.objectContaining({ code: ErrorCodes.pinnedModelUnfit, message: expect.stringContaining(why) }));
  });

  it('when nothing can run, the turn fails saying why instead of trying them', () => {
    const ranking = selector.rank({ catalog: [model('a', 'small', { unavailable: why }), model('b', 'small', { unavailable: why })], resources, needs, current: null });
    expect(() => selector.choose(ranking, { pinned: null, current: null })).toThrow(expect.objectContaining({ code: ErrorCodes.noModelFits, message: `No model can run here: a, b: ${why}` }));
  });
});
