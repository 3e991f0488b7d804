/**
 * core/deadline.ts: a time limit that a garbage collection cannot lose (Node 20's
 * AbortSignal.any([parent, AbortSignal.timeout(ms)]) never aborts once a collection has taken its
 * timeout signal, which hung the summariser's request to a silent server past its limit), that
 * follows its parent, and that leaves nothing behind once cleared.
 */
import { describe, expect, it } from 'vitest';
import { deadline } from '../core/deadline.ts';
import { collectGarbage } from './support/gc.ts';

const aborted = (signal: AbortSignal, withinMs: number) =>
  new Promise<boolean>((resolve) => {
    const give = setTimeout(() => resolve(false), withinMs);
    signal.addEventListener('abort', () => {
      clearTimeout(give);
      resolve(true);
    });
  });

describe('deadline', () => {
  it('aborts when its time is up, even after a garbage collection in between', async () => {
    const parent = new AbortController();
    const limit = deadline(100, parent.signal);
    const fired = aborted(limit.signal, 5_000);
    collectGarbage();
    expect(await fired).toBe(true);
    expect((limit.signal.reason as Error).name).toBe('TimeoutError');
    expect(parent.signal.aborted).toBe(false);
  });

  it('aborts with its parent, with the parent’s reason; an aborted parent aborts it at once', async () => {
    const parent = new AbortController();
    const limit = deadline(60_000, parent.signal);
    parent.abort(new Error('cancelled by the client'));
    expect(limit.signal.aborted).toBe(true);
    expect((limit.signal.reason as Error).message).toBe('cancelled by the client');
    limit.clear();
    expect(deadline(60_000, parent.signal).signal.reason).toBe(parent.signal.reason);
  });

  it('once cleared, neither its time nor its parent aborts it', async () => {
    const parent = new AbortController();
    const limit = deadline(50, parent.signal);
    limit.clear();
    const fired = aborted(limit.signal, 300);
    parent.abort();
    expect(await fired).toBe(false);
  });
});
