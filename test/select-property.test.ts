/**
 * Property tests over generated catalogues and resource snapshots: the real scorer plugins and the
 * Selector against an exhaustive oracle written from the rules in the issue (fit = memory estimate
 * within 80 % of free + what unloading the current model frees, a window that holds the turn, the
 * capabilities it needs; score = weighted sum; ties: priority, then config order; hysteresis), and
 * the no-flap property under ±10 % noise on a steady trace.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isMaiError } from '../core/errors.ts';
import { Cooldowns } from '../core/fallback/cooldown.ts';
import { createLogger } from '../core/log.ts';
import type { PluginContext, ScorerPlugin } from '../core/plugin.ts';
import { Selector } from '../core/select/selector.ts';
import type { Capability, CatalogModel, ResourceSnapshot, Scorer, Tier, TurnNeeds } from '../core/types.ts';
import capability from '../plugins/scorers/capability.ts';
import contextFit from '../plugins/scorers/context-fit.ts';
import latency from '../plugins/scorers/latency.ts';
import reliability from '../plugins/scorers/reliability.ts';
import resourceFit from '../plugins/scorers/resource-fit.ts';
import { GiB } from '../core/select/memory-estimate.ts';
import { catalogModel } from './support/catalog-model.ts';
const MiB = 1024 ** 2;
const TIER: Record<Tier, number> = { small: 0, medium: 1, large: 2 };
const CAPS: Capability[] = ['chat', 'code', 'reasoning', 'vision', 'tools'];
const switching = { margin: 0.1, minDwellMs: 30_000, slowReplyMs: 20_000, memoryHighShare: 0.9, cpuHighShare: 0.95, preload: true, unloadWaitMs: 5_000 };

// ---------- generators ----------

const architecture = fc.option(
  fc.record({
    layers: fc.integer({ min: 4, max: 80 }),
    heads: fc.constantFrom(8, 16, 32, 64),
    kvDivisor: fc.constantFrom(1, 2, 4, 8),
    headSize: fc.constantFrom(64, 128),
    kvBytesPerElement: fc.constantFrom(1, 2),
  }),
  { nil: undefined },
);

const modelArb = fc.record({
  tier: fc.constantFrom<Tier>('small', 'medium', 'large'),
  capabilities: fc.subarray(CAPS, { minLength: 1 }),
  contextLength: fc.constantFrom(512, 2048, 4096, 8192, 32768),
  sizeGiB: fc.option(fc.double({ min: 0.1, max: 40, noNaN: true }), { nil: undefined }),
  architecture,
  loaded: fc.boolean(),
  minMemoryGb: fc.option(fc.double({ min: 0, max: 48, noNaN: true }), { nil: undefined, freq: 4 }),
  minVramGb: fc.option(fc.double({ min: 0, max: 24, noNaN: true }), { nil: undefined, freq: 4 }),
  priority: fc.integer({ min: 0, max: 2 }),
});

type ModelInput = typeof modelArb extends fc.Arbitrary<infer T> ? T : never;

function toModel(m: ModelInput, i: number): CatalogModel {
  const a = m.architecture;
  return catalogModel(`m${i}`, {
    loaded: m.loaded,
    contextLength: m.contextLength,
    sizeBytes: m.sizeGiB === undefined ? undefined : Math.round(m.sizeGiB * GiB),
    tier: m.tier,
    capabilities: m.capabilities,
    architecture: a ? { layers: a.layers, heads: a.heads, kvHeads: a.heads / a.kvDivisor, embeddingSize: a.heads * a.headSize, kvBytesPerElement: a.kvBytesPerElement } : undefined,
    memoryBytes: m.loaded && m.sizeGiB !== undefined ? Math.round(m.sizeGiB * 1.1 * GiB) : undefined,
    minMemoryBytes: m.minMemoryGb === undefined ? undefined : m.minMemoryGb * GiB,
    minVramBytes: m.minVramGb === undefined ? undefined : m.minVramGb * GiB,
    priority: m.priority,
  });
}

const catalogArb = fc.array(modelArb, { minLength: 1, maxLength: 7 }).map((ms) => ms.map(toModel));

const snapshotArb = fc.record({
  memFreeBytes: fc.option(fc.double({ min: 0, max: 64 * GiB, noNaN: true }), { nil: null, freq: 8 }),
  extraTotal: fc.double({ min: 0, max: 64 * GiB, noNaN: true }),
  cpuLoad: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: null, freq: 8 }),
  gpus: fc.array(fc.option(fc.double({ min: 0, max: 24 * GiB, noNaN: true }), { nil: null }), { maxLength: 2 }),
}).map(
  (s): ResourceSnapshot => ({
    cpuLoad: s.cpuLoad,
    memFreeBytes: s.memFreeBytes,
    memTotalBytes: s.memFreeBytes === null ? null : s.memFreeBytes + s.extraTotal,
    gpus: s.gpus.map((free, i) => ({ name: `gpu${i}`, vramTotalBytes: 24 * GiB, vramFreeBytes: free })),
    sampledAt: 0,
  }),
);

const needsArb = fc
  .record({
    capabilities: fc.subarray(CAPS, { maxLength: 2 }),
    minPromptTokens: fc.integer({ min: 0, max: 6000 }),
    extra: fc.integer({ min: 0, max: 20000 }),
    replyTokens: fc.integer({ min: 16, max: 2048 }),
  })
  .map((n): TurnNeeds => ({ capabilities: n.capabilities, minPromptTokens: n.minPromptTokens, fullPromptTokens: n.minPromptTokens + n.extra, replyTokens: n.replyTokens }));

const weightsArb = fc.tuple(...Array.from({ length: 5 }, () => fc.double({ min: 0, max: 3, noNaN: true })));

// ---------- the system under test: the real plugins ----------

const context = { name: 'x', baseDir: '.', stateDir: '.', env: {}, log: createLogger('test', 'silent'), cooldowns: new Cooldowns({ cooldownMs: 60_000, failuresBeforeCooldown: 3, failureWindowMs: 60_000 }) } as PluginContext;
const plugins = [resourceFit, contextFit, capability, reliability, latency] as ScorerPlugin[];
const scorers: Scorer[] = plugins.map((p) => p.create(p.options!.parse({}), context) as Scorer);

function selector(weights: number[], margin = switching.margin): Selector {
  return new Selector(scorers.map((scorer, i) => ({ scorer, weight: weights[i]! })), { ...switching, margin });
}

// ---------- the oracle, from the rules ----------

function need(m: CatalogModel): number {
  const a = m.architecture;
  const kv = a?.layers && a.heads && a.embeddingSize ? 2 * a.layers * (a.kvHeads ?? a.heads) * (a.embeddingSize / a.heads) * m.contextLength * (a.kvBytesPerElement ?? 2) : 0;
  return Math.max((m.sizeBytes ?? 0) + kv + 256 * MiB, m.minMemoryBytes ?? 0);
}

interface Judged {
  model: CatalogModel;
  index: number;
  fits: boolean;
  score: number;
}

function judge(catalog: CatalogModel[], r: ResourceSnapshot, needs: TurnNeeds, current: string | null, weights: number[]): Judged[] {
  const gpuFree = Math.max(0, ...r.gpus.map((g) => g.vramFreeBytes ?? 0));
  const cur = catalog.find((m) => m.id === current);
  return catalog.map((m, index) => {
    // resource-fit
    let resourceFits = true;
    if (!m.loaded) {
      if ((m.minVramBytes ?? 0) > 0 && gpuFree < m.minVramBytes!) resourceFits = false;
      else if (r.memFreeBytes !== null) {
        const reclaim = cur && cur.id !== m.id && cur.loaded ? (cur.memoryBytes ?? cur.sizeBytes ?? 0) : 0;
        resourceFits = need(m) <= (r.memFreeBytes + gpuFree + reclaim) * 0.8;
      }
    }
    const resource = resourceFits ? (TIER[m.tier] + 1) / 3 : 0;
    // context-fit
    const room = m.contextLength - Math.min(needs.replyTokens, Math.floor(m.contextLength / 2)) - 32;
    const contextFits = room >= needs.minPromptTokens;
    const ctx = contextFits ? (needs.fullPromptTokens === 0 ? 1 : Math.min(1, room / needs.fullPromptTokens)) : 0;
    // capability
    const capFits = needs.capabilities.every((c) => m.capabilities.includes(c));
    const cap = capFits ? Math.min(1, 0.5 + (m.capabilities.length - needs.capabilities.length) * 0.125) : 0;
    // reliability (no failures) and latency (nothing measured)
    const parts = [resource, ctx, cap, 1, 0.5];
    const total = weights.reduce((s, w) => s + w, 0) || 1;
    const score = parts.reduce((s, p, i) => s + p * weights[i]!, 0) / total;
    return { model: m, index, fits: resourceFits && contextFits && capFits, score };
  });
}

/** The ranking by brute force: fits, score (in steps of 1e-9: one step is a tie), priority, config order. */
function oracleRank(judged: Judged[]): Judged[] {
  const step = (score: number) => Math.round(score / 1e-9);
  return [...judged].sort((a, b) => {
    if (a.fits !== b.fits) return a.fits ? -1 : 1;
    if (step(a.score) !== step(b.score)) return step(b.score) - step(a.score);
    return b.model.priority - a.model.priority || a.index - b.index;
  });
}

const heavier = (a: CatalogModel, b: CatalogModel) => TIER[a.tier] > TIER[b.tier] || (a.tier === b.tier && need(a) > need(b));

function oracleChoose(judged: Judged[], r: ResourceSnapshot, current: string | null, margin: number): string {
  const ranked = oracleRank(judged);
  const fitting = ranked.filter((j) => j.fits);
  if (fitting.length === 0) {
    const lowest = Math.min(...ranked.map((j) => TIER[j.model.tier]));
    const kept = ranked.find((j) => j.model.id === current && TIER[j.model.tier] === lowest);
    if (kept) return kept.model.id;
    return ranked.map((j, pos) => ({ j, pos })).sort((a, b) => TIER[a.j.model.tier] - TIER[b.j.model.tier] || need(a.j.model) - need(b.j.model) || a.pos - b.pos)[0]!.j.model.id;
  }
  const best = fitting[0]!;
  const cur = ranked.find((j) => j.model.id === current);
  if (!cur || !cur.fits) return best.model.id;
  const freeShare = r.memFreeBytes !== null && r.memTotalBytes ? r.memFreeBytes / r.memTotalBytes : null;
  const pressure = (freeShare !== null && freeShare < 1 - switching.memoryHighShare) || (r.cpuLoad !== null && r.cpuLoad > switching.cpuHighShare);
  if (pressure) return (fitting.find((j) => j !== cur && heavier(cur.model, j.model)) ?? cur).model.id;
  if (best === cur || best.score - cur.score < margin) return cur.model.id;
  const relieved = !(freeShare !== null && freeShare < 1.25 * (1 - switching.memoryHighShare)) && !(r.cpuLoad !== null && r.cpuLoad > switching.cpuHighShare / 1.25);
  if (heavier(best.model, cur.model) && !relieved) return cur.model.id;
  return best.model.id;
}

// ---------- properties ----------

describe('selection over generated catalogues and snapshots', () => {
  it('ranks exactly as the oracle, and the chosen model fits whenever any does (no current model)', () => {
    fc.assert(
      fc.property(catalogArb, snapshotArb, needsArb, weightsArb, (catalog, resources, needs, weights) => {
        const s = selector(weights);
        const ranking = s.rank({ catalog, resources, needs, current: null, now: 0 });
        const judged = judge(catalog, resources, needs, null, weights);
        expect(ranking.map((r) => r.model.id)).toEqual(oracleRank(judged).map((j) => j.model.id));
        expect(ranking.map((r) => r.fits)).toEqual(oracleRank(judged).map((j) => j.fits));
        const choice = s.choose(ranking, { pinned: null, current: null, now: 0, resources });
        expect(choice.model.id).toBe(oracleChoose(judged, resources, null, switching.margin));
        if (judged.some((j) => j.fits)) expect(ranking.find((r) => r.model === choice.model)?.fits).toBe(true);
        else expect(choice.reason).toBe('minimal-resource');
      }),
      { numRuns: 400 },
    );
  });

  it('with a current model (dwell over): hysteresis, pressure and the margin as the oracle says', () => {
    fc.assert(
      fc.property(catalogArb, snapshotArb, needsArb, weightsArb, fc.nat(), fc.double({ min: 0, max: 0.4, noNaN: true }), (catalog, resources, needs, weights, pick, margin) => {
        const current = catalog[pick % catalog.length]!.id;
        const s = selector(weights, margin);
        const ranking = s.rank({ catalog, resources, needs, current, now: 0 });
        const judged = judge(catalog, resources, needs, current, weights);
        const choice = s.choose(ranking, { pinned: null, current, currentSince: -switching.minDwellMs, now: 0, resources });
        expect(choice.model.id).toBe(oracleChoose(judged, resources, current, margin));
        if (judged.some((j) => j.fits)) expect(ranking.find((r) => r.model === choice.model)?.fits).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it('a pinned model is used while it fits; when it does not, the error says why', () => {
    fc.assert(
      fc.property(catalogArb, snapshotArb, needsArb, weightsArb, fc.nat(), (catalog, resources, needs, weights, pick) => {
        const pinned = catalog[pick % catalog.length]!;
        const s = selector(weights);
        const ranking = s.rank({ catalog, resources, needs, current: null, now: 0 });
        const fits = judge(catalog, resources, needs, null, weights).find((j) => j.model === pinned)!.fits;
        if (fits) {
          expect(s.choose(ranking, { pinned: pinned.id, current: null, now: 0 })).toMatchObject({ model: pinned, reason: 'pinned' });
        } else {
          let error: unknown;
          try {
            s.choose(ranking, { pinned: pinned.id, current: null, now: 0 });
          } catch (e) {
            error = e;
          }
          expect(isMaiError(error, 'pinned-model-unfit')).toBe(true);
          const vetoes = ranking.find((r) => r.model === pinned)!.vetoes;
          expect(vetoes.length).toBeGreaterThan(0);
          expect((error as Error).message).toContain(vetoes[0]!);
        }
      }),
      { numRuns: 200 },
    );
  });

  const noise = fc.array(fc.tuple(fc.double({ min: 0.9, max: 1.1, noNaN: true }), fc.double({ min: 0.9, max: 1.1, noNaN: true }), fc.double({ min: 0.9, max: 1.1, noNaN: true })), {
    minLength: 30,
    maxLength: 30,
  });
  /** Steady traces that hover around the memory and CPU thresholds, where flapping would start. */
  const nearThresholds = fc
    .record({
      total: fc.double({ min: 4 * GiB, max: 64 * GiB, noNaN: true }),
      freeShare: fc.double({ min: 0.06, max: 0.16, noNaN: true }),
      cpuLoad: fc.double({ min: 0.75, max: 1, noNaN: true }),
      gpu: fc.option(fc.double({ min: 0, max: 8 * GiB, noNaN: true }), { nil: null }),
    })
    .map(
      (s): ResourceSnapshot => ({
        cpuLoad: s.cpuLoad,
        memFreeBytes: s.total * s.freeShare,
        memTotalBytes: s.total,
        gpus: s.gpu === null ? [] : [{ name: 'gpu0', vramTotalBytes: 8 * GiB, vramFreeBytes: s.gpu }],
        sampledAt: 0,
      }),
    );

  it.each([
    // Proactive switches are rare on arbitrary traces (1 run in ~12 drew none), so only the traces built to
    // hover at the thresholds must show them; both must show switches.
    { trace: 'any steady trace', baseArb: snapshotArb, proactiveExpected: false },
    { trace: 'a steady trace near the memory and CPU thresholds', baseArb: nearThresholds, proactiveExpected: true },
  ])('under ±10 % noise on $trace the choice does not flap (no model is chosen again after being left)', ({ baseArb, proactiveExpected }) => {
    const seen = { switches: 0, proactive: 0 };
    fc.assert(
      fc.property(catalogArb, baseArb, needsArb, weightsArb, fc.double({ min: 0, max: 0.3, noNaN: true }), noise, (initial, base, needs, weights, margin, draws) => {
        const catalog: CatalogModel[] = initial.map((m) => ({ ...m, loaded: false, memoryBytes: undefined }));
        const s = selector(weights, margin);
        let current: string | null = null;
        let since = 0;
        const chosen: string[] = [];
        draws.forEach(([mem, cpu, gpu], step) => {
          const now = step * 60_000; // a turn a minute: the dwell time never hides a flap
          const resources: ResourceSnapshot = {
            ...base,
            memFreeBytes: base.memFreeBytes === null ? null : base.memFreeBytes * mem,
            cpuLoad: base.cpuLoad === null ? null : Math.min(1, base.cpuLoad * cpu),
            gpus: base.gpus.map((g) => ({ ...g, vramFreeBytes: g.vramFreeBytes === null ? null : g.vramFreeBytes * gpu })),
          };
          const ranking = s.rank({ catalog, resources, needs, current, now });
          const choice = s.choose(ranking, { pinned: null, current, currentSince: since, now, resources });
          if (choice.model.id !== current) {
            if (current !== null) seen.switches++;
            if (choice.reason === 'proactive') seen.proactive++;
            // What the switcher does: the new model is loaded, the old one unloaded.
            for (const m of catalog) {
              m.loaded = m.id === choice.model.id;
              m.memoryBytes = m.loaded ? need(m) : undefined;
            }
            current = choice.model.id;
            since = now;
          }
          chosen.push(choice.model.id);
        });
        const runs = chosen.filter((id, i) => i === 0 || chosen[i - 1] !== id);
        expect(new Set(runs).size, `choices: ${runs.join(' → ')}`).toBe(runs.length);
      }),
      { numRuns: 300 },
    );
    // Not vacuous: the traces did make Mai switch, proactively too.
    expect(seen.switches).toBeGreaterThan(0);
    if (proactiveExpected) expect(seen.proactive).toBeGreaterThan(0);
  });
});

describe('near-equal scores', () => {
  it('a model beaten by more than the tie step ranks below the one that beats it, whatever the catalogue order (ties are steps, not closeness: a ≈ c and c ≈ b while a > b)', () => {
    // Found by the property above on Deno (seed 399508700): three scores each within 1e-9 of the next, the outer two not.
    const scores: Record<string, number> = { a: 0.5 + 1.2e-9, b: 0.5, c: 0.5 + 0.6e-9 };
    const fixed: Scorer = { name: 'fixed', score: ({ model }) => ({ score: scores[model.id]! }) };
    const s = new Selector([{ scorer: fixed, weight: 1 }], switching);
    const needs: TurnNeeds = { capabilities: [], minPromptTokens: 0, fullPromptTokens: 0, replyTokens: 0 };
    const resources: ResourceSnapshot = { cpuLoad: null, memFreeBytes: null, memTotalBytes: null, gpus: [], sampledAt: 0 };
    for (const order of [['a', 'b', 'c'], ['a', 'c', 'b'], ['b', 'a', 'c'], ['b', 'c', 'a'], ['c', 'a', 'b'], ['c', 'b', 'a']]) {
      const ids = s.rank({ catalog: order.map((id) => catalogModel(id, { loaded: true })), resources, needs, current: null, now: 0 }).map((r) => r.model.id);
      expect(ids.indexOf('a'), `catalogue ${order.join(', ')} ranked ${ids.join(', ')}`).toBeLessThan(ids.indexOf('b'));
    }
  });
});
