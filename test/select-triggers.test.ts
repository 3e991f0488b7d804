import { describe, expect, it } from 'vitest';
import type { RankedModel } from '../core/select/ranking.ts';
import { Selector } from '../core/select/selector.ts';
import { activeTriggers, pressureRelieved, ReplyTimes } from '../core/select/triggers.ts';
import type { CatalogModel, ResourceSnapshot, Tier } from '../core/types.ts';
import { GiB } from '../core/select/memory-estimate.ts';
import { catalogModel } from './support/catalog-model.ts';
const config = { slowReplyMs: 1_000, memoryHighShare: 0.9, cpuHighShare: 0.95 };
const switching = { ...config, margin: 0.1, minDwellMs: 30_000, preload: false, unloadWaitMs: 1_000 };
const snap = (free: number | null, cpu: number | null): ResourceSnapshot => ({ cpuLoad: cpu, memFreeBytes: free, memTotalBytes: free === null ? null : 10 * GiB, gpus: [], sampledAt: 0 });
const model = (id: string, tier: Tier, sizeGiB: number): CatalogModel => catalogModel(id, { loaded: true, sizeBytes: sizeGiB * GiB, tier });
const ranked = (m: CatalogModel, score: number): RankedModel => ({ model: m, score, fits: true, vetoes: [], reasons: [], scores: {} });

describe('proactive triggers', () => {
  it('fire on slow replies, memory above its share, CPU above its share and repeated failures — unknown metrics never fire', () => {
    const kinds = (input: Parameters<typeof activeTriggers>[0]) => activeTriggers(input, config).map((t) => t.kind);
    expect(kinds({ resources: snap(5 * GiB, 0.5), replyMs: 900, recentFailures: 1 })).toEqual([]);
    expect(kinds({ resources: snap(0.5 * GiB, 0.97), replyMs: 1_500, recentFailures: 2 })).toEqual(['slow-replies', 'memory-high', 'cpu-high', 'failures']);
    expect(kinds({ resources: snap(null, null), replyMs: null, recentFailures: 0 })).toEqual([]);
    expect(activeTriggers({ resources: snap(0.5 * GiB, 0.1), replyMs: null, recentFailures: 0 }, config)[0]?.detail).toBe('memory 95 % used (threshold 90 %)');
  });

  it('pressure counts as gone only well inside the thresholds (hysteresis)', () => {
    expect(pressureRelieved(snap(0.9 * GiB, 0.5), config)).toBe(false); // 91 % used: above the line
    expect(pressureRelieved(snap(1.1 * GiB, 0.5), config)).toBe(false); // 89 % used: below, but not by enough
    expect(pressureRelieved(snap(1.3 * GiB, 0.5), config)).toBe(true);
    expect(pressureRelieved(snap(5 * GiB, 0.9), config)).toBe(false);
    expect(pressureRelieved(snap(5 * GiB, 0.7), config)).toBe(true);
  });

  it('reply times are a moving average of successful attempts', () => {
    const times = new ReplyTimes(0.5);
    times.observe({ model: 'm', ok: true, durationMs: 1_000, at: 0 });
    times.observe({ model: 'm', ok: false, at: 0 });
    times.observe({ model: 'm', ok: true, durationMs: 3_000, at: 0 });
    expect(times.of('m')).toBe(2_000);
    expect(times.of('other')).toBeNull();
  });
});

describe('the selector under triggers', () => {
  const big = model('big', 'large', 10);
  const mid = model('mid', 'medium', 5);
  const small = model('small', 'small', 1);
  const selector = new Selector([], switching);
  const ranking = [ranked(big, 0.9), ranked(mid, 0.7), ranked(small, 0.5)];
  const base = { pinned: null, current: 'big', currentSince: 0, now: 60_000 };

  it('repeated failures move to the best other model, even a heavier one', () => {
    const choice = selector.choose([ranked(mid, 0.9), ranked(big, 0.8), ranked(small, 0.5)], { ...base, current: 'mid', resources: snap(5 * GiB, 0.1), recentFailures: 2 });
    expect(choice).toMatchObject({ model: big, reason: 'proactive', detail: '2 recent failures' });
  });

  it('memory pressure and slow replies move to the best lighter model', () => {
    expect(selector.choose(ranking, { ...base, resources: snap(0.5 * GiB, 0.1) })).toMatchObject({ model: mid, reason: 'proactive' });
    expect(selector.choose(ranking, { ...base, resources: snap(5 * GiB, 0.1), replyMs: 5_000 })).toMatchObject({ model: mid, reason: 'proactive' });
  });

  it('no proactive move within the dwell time, and none when nothing lighter fits', () => {
    expect(selector.choose(ranking, { ...base, now: 10_000, resources: snap(0.5 * GiB, 0.1) })).toMatchObject({ model: big, reason: 'kept' });
    expect(selector.choose(ranking, { ...base, current: 'small', resources: snap(0.5 * GiB, 0.1) }).detail).toMatch(/no other model fits that would help/);
  });

  it('back up to a heavier model only once pressure is clearly gone', () => {
    const up = [ranked(big, 0.9), ranked(small, 0.5)];
    expect(selector.choose(up, { ...base, current: 'small', resources: snap(1.1 * GiB, 0.1) })).toMatchObject({ model: small, reason: 'kept' });
    expect(selector.choose(up, { ...base, current: 'small', resources: snap(3 * GiB, 0.1) })).toMatchObject({ model: big, reason: 'best' });
  });
});
