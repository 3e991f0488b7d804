import { afterEach, describe, expect, it } from 'vitest';
import { Cooldowns } from '../core/fallback/cooldown.ts';
import { createLogger } from '../core/log.ts';
import type { PluginContext, ScorerPlugin } from '../core/plugin.ts';
import { estimateMemory, kvCacheBytes } from '../core/select/memory-estimate.ts';
import type { CatalogModel, ResourceSnapshot, Scorer, ScoreInput, Tier, TurnNeeds } from '../core/types.ts';
import capability from '../plugins/scorers/capability.ts';
import contextFit from '../plugins/scorers/context-fit.ts';
import latency from '../plugins/scorers/latency.ts';
import reliability from '../plugins/scorers/reliability.ts';
import resourceFit from '../plugins/scorers/resource-fit.ts';
import { GiB, createTestMai, snapshot, tempDir, type TempDir } from './support/harness.ts';
import { startOllamaServer, type FakeOllamaServer } from './support/ollama-server.ts';
import { catalogModel } from './support/catalog-model.ts';

const MiB = 1024 ** 2;

function model(id: string, tier: Tier, over: Partial<CatalogModel> = {}): CatalogModel {
  return catalogModel(id, { tier, contextLength: 8192, sizeBytes: 4 * GiB, ...over });
}

const needs: TurnNeeds = { capabilities: ['chat'], minPromptTokens: 100, fullPromptTokens: 400, replyTokens: 512 };
const cooldowns = () => new Cooldowns({ cooldownMs: 60_000, failuresBeforeCooldown: 3, failureWindowMs: 60_000 });
const contextFor = (c = cooldowns()) => ({ name: 'x', baseDir: '.', stateDir: '.', env: {}, log: createLogger('test', 'silent'), cooldowns: c }) as PluginContext;
const make = (plugin: unknown, options: Record<string, unknown> = {}, c = cooldowns()): Scorer => {
  const p = plugin as ScorerPlugin;
  return p.create(p.options!.parse(options), contextFor(c)) as Scorer;
};
const input = (m: CatalogModel, over: Partial<ScoreInput> = {}): ScoreInput => ({
  model: m,
  catalog: [m],
  resources: snapshot({ memFreeBytes: 16 * GiB }),
  needs,
  current: null,
  now: Date.now(),
  ...over,
});

describe('resource-fit', () => {
  const llama8b = { layers: 32, heads: 32, kvHeads: 8, embeddingSize: 4096, kvBytesPerElement: 2 };

  it('sizes the KV cache as 2 × layers × KV heads × head size × tokens × bytes per element, for the window Mai asks for', () => {
    const m = model('llama', 'medium', { architecture: llama8b, contextLength: 8192 });
    expect(kvCacheBytes(m, 8192)).toBe(2 * 32 * 8 * 128 * 8192 * 2); // 1 GiB
    expect(kvCacheBytes(m, 8192)).toBe(GiB);
    expect(estimateMemory(m)).toBe(4 * GiB + GiB + 256 * MiB);
    expect(kvCacheBytes(model('q8', 'medium', { architecture: { ...llama8b, kvBytesPerElement: 1 } }), 8192)).toBe(GiB / 2);
    expect(kvCacheBytes(model('unknown', 'medium'), 8192)).toBe(0);
    // At least the configured minimum.
    expect(estimateMemory(model('min', 'small', { minMemoryBytes: 20 * GiB }))).toBe(20 * GiB);
  });

  it('vetoes what exceeds 80 % of free memory, and says the numbers', () => {
    const s = make(resourceFit);
    const m = model('llama', 'medium', { architecture: llama8b }); // needs 5.25 GiB
    expect(s.score(input(m, { resources: snapshot({ memFreeBytes: 6.6 * GiB }) })).veto).toBeUndefined();
    const verdict = s.score(input(m, { resources: snapshot({ memFreeBytes: 6.5 * GiB }) }));
    expect(verdict.veto).toMatch(/needs ~5\.25 GB, 5\.20 GB usable \(80 % of free\)/);
    expect(verdict.score).toBe(0);
  });

  it('counts what unloading the current model would free', () => {
    const s = make(resourceFit);
    const current = model('current', 'large', { loaded: true, memoryBytes: 6 * GiB });
    const next = model('next', 'large', { sizeBytes: 8 * GiB });
    const resources = snapshot({ memFreeBytes: 5 * GiB });
    expect(s.score(input(next, { catalog: [current, next], resources, current: null })).veto).toBeDefined();
    const verdict = s.score(input(next, { catalog: [current, next], resources, current: 'current' }));
    expect(verdict.veto).toBeUndefined();
    expect(verdict.reason).toMatch(/counting current unloaded/);
  });

  it('prefers the most capable tier that fits; a loaded model fits; free VRAM counts; a VRAM minimum vetoes', () => {
    const s = make(resourceFit);
    const scores = (['small', 'medium', 'large'] as Tier[]).map((t) => s.score(input(model(t, t))).score);
    expect(scores[0]).toBeLessThan(scores[1]!);
    expect(scores[1]).toBeLessThan(scores[2]!);
    const big = model('big', 'large', { sizeBytes: 30 * GiB });
    expect(s.score(input(big)).veto).toBeDefined();
    expect(s.score(input({ ...big, loaded: true })).reason).toBe('already loaded');
    const gpu = (free: number): ResourceSnapshot => snapshot({ memFreeBytes: 16 * GiB, gpus: [{ name: 'rtx', vramTotalBytes: 24 * GiB, vramFreeBytes: free }] });
    expect(s.score(input(big, { resources: gpu(22 * GiB) })).veto).toBeUndefined();
    const needsVram = model('v', 'medium', { minVramBytes: 8 * GiB });
    expect(s.score(input(needsVram)).veto).toMatch(/needs 8\.00 GB of VRAM, 0\.00 GB free/);
    expect(s.score(input(needsVram, { resources: gpu(10 * GiB) })).veto).toBeUndefined();
  });

  it('free memory unknown: no veto, says so', () => {
    expect(make(resourceFit).score(input(model('x', 'large', { sizeBytes: 500 * GiB }), { resources: snapshot({ memFreeBytes: null }) }))).toMatchObject({ reason: 'free memory unknown' });
  });
});

describe('context-fit and capability', () => {
  it('context-fit vetoes a window that cannot hold the turn at the least, and prefers room for the whole conversation', () => {
    const s = make(contextFit);
    expect(s.score(input(model('tiny', 'small', { contextLength: 512 }), { needs: { ...needs, minPromptTokens: 300 } })).veto).toMatch(/window 512 cannot hold the 300 tokens/);
    const roomy = s.score(input(model('big', 'large', { contextLength: 32768 }), { needs: { ...needs, fullPromptTokens: 20_000 } }));
    const tight = s.score(input(model('mid', 'medium', { contextLength: 8192 }), { needs: { ...needs, fullPromptTokens: 20_000 } }));
    expect(roomy.score).toBe(1);
    expect(tight.score).toBeLessThan(1);
    expect(tight.reason).toBe('older turns will be compressed');
  });

  it('capability vetoes a model that lacks what the turn needs, naming it', () => {
    const s = make(capability);
    expect(s.score(input(model('m', 'medium'), { needs: { ...needs, capabilities: ['chat', 'vision', 'tools'] } })).veto).toBe('lacks vision, tools');
    expect(s.score(input(model('m', 'medium', { capabilities: ['chat', 'vision'] }), { needs: { ...needs, capabilities: ['vision'] } })).veto).toBeUndefined();
  });
});

describe('reliability', () => {
  it('recent failures lower the score; the third within a minute starts the cooldown (a veto), which ends after cooldownMs', () => {
    const c = cooldowns();
    const s = make(reliability, {}, c);
    const m = model('m', 'medium');
    const t0 = 1_000_000;
    expect(s.score(input(m, { now: t0 })).score).toBe(1);
    c.recordFailure('m', t0);
    c.recordFailure('m', t0 + 10_000);
    const twice = s.score(input(m, { now: t0 + 10_000 }));
    expect(twice.score).toBeCloseTo(1 / 3);
    expect(twice.veto).toBeUndefined();
    c.recordFailure('m', t0 + 20_000);
    expect(s.score(input(m, { now: t0 + 20_000 })).veto).toMatch(/cooling down after repeated failures until/);
    expect(s.score(input(m, { now: t0 + 20_000 + 60_001 })).veto).toBeUndefined();
  });

  it('failures further apart than the window do not add up; the count and window are configurable', () => {
    const spread = cooldowns();
    for (const at of [0, 61_000, 122_000]) spread.recordFailure('m', at);
    expect(spread.coolingDown('m', 122_000)).toBe(false);
    const strict = new Cooldowns({ cooldownMs: 5_000, failuresBeforeCooldown: 2, failureWindowMs: 10_000 });
    strict.recordFailure('m', 0);
    strict.recordFailure('m', 9_000);
    expect(strict.coolingDown('m', 9_000)).toBe(true);
    expect(strict.coolingDown('m', 14_001)).toBe(false);
  });
});

describe('latency', () => {
  it('a moving average of time to first token and tokens/s: faster scores higher; failures are not timings', () => {
    const s = make(latency, { smoothing: 0.5 });
    const fast = model('fast', 'small');
    const slow = model('slow', 'small');
    expect(s.score(input(fast))).toMatchObject({ score: 0.5, reason: 'not measured yet' });
    s.observe!({ model: 'fast', ok: true, timeToFirstTokenMs: 100, tokensPerSecond: 80, at: 0 });
    s.observe!({ model: 'slow', ok: true, timeToFirstTokenMs: 3_000, tokensPerSecond: 5, at: 0 });
    s.observe!({ model: 'slow', ok: false, at: 0 });
    expect(s.score(input(fast)).score).toBeGreaterThan(s.score(input(slow)).score);
    s.observe!({ model: 'fast', ok: true, timeToFirstTokenMs: 300, tokensPerSecond: 40, at: 1 });
    expect(s.score(input(fast)).reason).toBe('~200 ms to first token, ~60.0 tok/s');
  });
});

describe('models/list explains every decision', () => {
  let server: FakeOllamaServer;
  let dir: TempDir;
  afterEach(async () => {
    await server.close();
    await dir.cleanup();
  });

  it('shows each model with its score, the score of each scorer, its vetoes and reasons', async () => {
    server = await startOllamaServer([
      { name: 'huge', sizeBytes: 40 * GiB },
      { name: 'fine', sizeBytes: 2 * GiB },
    ]);
    dir = await tempDir();
    const { mai } = await createTestMai(
      dir.path,
      `
backends: [{ use: ollama, options: { baseURL: ${server.url} } }]
models:
  - { id: huge, tier: large, contextLength: 4096 }
  - { id: fine, tier: small, contextLength: 4096 }
scorers:
  - { use: resource-fit, weight: 3 }
  - { use: context-fit }
`,
      snapshot({ memFreeBytes: 8 * GiB }),
    );
    const report = await mai.models();
    await mai.close();
    const huge = report.models.find((m) => m.id === 'huge')!;
    const fine = report.models.find((m) => m.id === 'fine')!;
    expect(report.models[0]!.id).toBe('fine');
    expect(huge).toMatchObject({ fits: false, score: 0.25, scores: { 'resource-fit': 0, 'context-fit': 1 } });
    expect(huge.vetoes).toEqual([expect.stringMatching(/^resource-fit: needs ~40\.25 GB, 6\.40 GB usable \(80 % of free\)$/)]);
    expect(huge.reason).toBe(huge.vetoes[0]);
    expect(fine).toMatchObject({ fits: true, vetoes: [] });
    expect(fine.reasons).toEqual([expect.stringMatching(/^resource-fit: needs ~2\.25 GB of 6\.40 GB usable/), 'context-fit: the whole conversation fits']);
    expect(fine.score).toBeCloseTo((3 * (1 / 3) + 1) / 4, 3);
  });
});
