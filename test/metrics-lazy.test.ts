/**
 * MaiMetrics loads prom-client only when the metrics are first read (or after UNREAD_TURNS unread
 * turns); the turns that ended before are all counted then, so the exposition is the same text as
 * prom-client's instruments counting every turn from the start.
 */
import { describe, expect, it } from 'vitest';
import { MaiMetrics, UNREAD_TURNS } from '../core/metrics/mai-metrics.ts';
import { PromInstruments } from '../core/metrics/prom-instruments.ts';
import { turnCounts, type MetricsSource } from '../core/metrics/turn-counts.ts';
import type { TurnSummary } from '../core/observe/turn-summary.ts';

/** A varied ended turn: answered, failed over, cancelled; with usage, queue waits, first tokens, a switch. */
function summary(i: number): TurnSummary {
  const model = ['alpha', 'beta', 'gamma'][i % 3]!;
  const ok = i % 5 !== 0;
  return {
    turn: { result: ok ? { usage: { promptTokens: 10 + i, completionTokens: i } } : undefined },
    outcome: ok ? 'ok' : i % 2 === 0 ? 'failed' : 'cancelled',
    durationMs: 37 * i + 5,
    chosen: { model: { id: model } },
    answeredBy: ok ? model : null,
    attempts: [
      { model: 'backup', backend: 'b', ok: false, error: i % 4 === 0 ? 'cancelled' : 'server-error', queueMs: i },
      { model, backend: 'b', ok, ...(ok ? { ttftMs: 3 * i } : { error: 'timeout' }), queueMs: 2 * i },
    ],
    fallbacks: [{ from: 'backup', to: model }],
    switched: i % 7 === 0 ? { from: 'beta', to: model } : null,
  } as unknown as TurnSummary;
}

const source: MetricsSource = {
  queue: () => [{ model: 'alpha', waiting: 2, running: 1 }],
  loadedModels: () => [{ model: 'alpha', backend: 'b' }],
  backends: () => [{ name: 'b', reachable: true }],
  resources: () => ({ cpuLoad: 0.25, memFreeBytes: 1e9, memTotalBytes: 4e9, gpus: [] }) as unknown as ReturnType<MetricsSource['resources']>,
};

describe('metrics: prom-client loaded on first read', () => {
  it('turns that ended before the first read are all counted: the same text as instruments counting from the start', async () => {
    const lazy = new MaiMetrics();
    lazy.bind(source);
    const reference = new PromInstruments(() => source);
    for (let i = 0; i < 40; i++) {
      lazy.turnEnded(summary(i));
      reference.count(turnCounts(summary(i)));
    }
    expect(lazy.counting).toBe(false);
    const first = await lazy.read();
    expect(lazy.counting).toBe(true);
    expect(first).toEqual({ contentType: reference.registry.contentType, text: await reference.registry.metrics() });
    expect(first.text).toMatch(/^mai_turns_total\{model="beta",outcome="ok"\} \d+$/m);
    // After the first read, turns are counted as they end.
    for (let i = 40; i < 60; i++) {
      lazy.turnEnded(summary(i));
      reference.count(turnCounts(summary(i)));
    }
    expect((await lazy.read()).text).toBe(await reference.registry.metrics());
  });

  it(`loads the instruments after ${UNREAD_TURNS} unread turns, so the turns waiting stay few`, async () => {
    const metrics = new MaiMetrics();
    for (let i = 0; i < UNREAD_TURNS - 1; i++) metrics.turnEnded(summary(i));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(metrics.counting).toBe(false);
    metrics.turnEnded(summary(UNREAD_TURNS));
    await expect.poll(() => metrics.counting).toBe(true);
    expect((await metrics.read()).text).toContain(`mai_turn_duration_seconds_count{model="alpha",outcome="ok"}`);
  });
});
