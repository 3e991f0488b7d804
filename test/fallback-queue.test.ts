import { describe, expect, it } from 'vitest';
import { isMaiError } from '../core/errors.ts';
import { ModelQueue, type Lease } from '../core/fallback/model-queue.ts';

/** Acquires and records the order leases are granted in. */
function recorder(queue: ModelQueue) {
  const granted: string[] = [];
  const leases = new Map<string, Lease>();
  const take = (label: string, model: string, exclusive = false, signal?: AbortSignal) =>
    queue.acquire(model, { exclusive, ...(signal ? { signal } : {}) }).then((lease) => {
      granted.push(label);
      leases.set(label, lease);
      return lease;
    });
  const release = async (label: string) => {
    leases.get(label)!.release();
    await new Promise((r) => setImmediate(r));
  };
  return { granted, take, release };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('the per-model queue', () => {
  it('runs one turn per model at a time; other models that need no load run beside it', async () => {
    const q = new ModelQueue({ queueLimit: 4 });
    const r = recorder(q);
    void r.take('a1', 'a');
    void r.take('a2', 'a');
    void r.take('b1', 'b');
    await tick();
    expect(r.granted).toEqual(['a1', 'b1']);
    expect(q.inUse('a') && q.inUse('b')).toBe(true);
    await r.release('a1');
    expect(r.granted).toEqual(['a1', 'b1', 'a2']);
    await r.release('a2');
    await r.release('b1');
    expect(q.idle()).toBe(true);
  });

  it('a turn that must load its model waits until no other model runs, and nothing else starts beside it', async () => {
    const q = new ModelQueue({ queueLimit: 4 });
    const r = recorder(q);
    void r.take('a1', 'a');
    void r.take('b1', 'b', true);
    await tick();
    expect(r.granted).toEqual(['a1']);
    await r.release('a1');
    expect(r.granted).toEqual(['a1', 'b1']);
    void r.take('c1', 'c');
    await tick();
    expect(r.granted).toEqual(['a1', 'b1']);
    await r.release('b1');
    expect(r.granted).toEqual(['a1', 'b1', 'c1']);
  });

  it('groups waiters by the model that just ran', async () => {
    const q = new ModelQueue({ queueLimit: 8 });
    const r = recorder(q);
    void r.take('a1', 'a', true);
    for (const [label, model] of [['b1', 'b'], ['a2', 'a'], ['b2', 'b'], ['a3', 'a']] as const) void r.take(label, model, model === 'b');
    await tick();
    for (const label of ['a1', 'a2', 'a3', 'b1']) await r.release(label);
    expect(r.granted).toEqual(['a1', 'a2', 'a3', 'b1', 'b2']);
  });

  it('but a waiter passed over queueLimit times goes first (no one waits for ever)', async () => {
    const q = new ModelQueue({ queueLimit: 2 });
    const r = recorder(q);
    void r.take('a1', 'a');
    void r.take('b1', 'b', true);
    void r.take('a2', 'a');
    await tick();
    await r.release('a1'); // a2 goes first (group), b1 passed over once
    void r.take('a3', 'a');
    await r.release('a2'); // a3 (group), b1 passed over twice
    void r.take('a4', 'a');
    await r.release('a3'); // b1 now, although a4 is in the group
    expect(r.granted).toEqual(['a1', 'a2', 'a3', 'b1']);
    await r.release('b1');
    expect(r.granted.at(-1)).toBe('a4');
  });

  it('beyond queueLimit waiting for one model: a clear queue-full error naming the model and the limit', async () => {
    const q = new ModelQueue({ queueLimit: 2 });
    const r = recorder(q);
    void r.take('a1', 'a');
    void r.take('a2', 'a');
    void r.take('a3', 'a');
    const error = await q.acquire('a').then(
      () => null,
      (e: unknown) => e,
    );
    expect(isMaiError(error, 'queue-full')).toBe(true);
    expect((error as Error).message).toMatch(/2 turns are already waiting for a \(fallback\.queueLimit is 2\)/);
    expect(q.waiting('a')).toBe(2);
    // Other models have their own bound.
    await expect(q.acquire('b')).resolves.toMatchObject({ model: 'b' });
  });

  it('a turn cancelled while it waits leaves the queue', async () => {
    const q = new ModelQueue({ queueLimit: 2 });
    const r = recorder(q);
    void r.take('a1', 'a');
    const controller = new AbortController();
    const waiting = q.acquire('a', { signal: controller.signal });
    expect(q.waiting('a')).toBe(1);
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'cancelled' });
    expect(q.waiting('a')).toBe(0);
    await r.release('a1');
    expect(q.idle()).toBe(true);
  });

  it('a lease released twice counts once', async () => {
    const q = new ModelQueue({ queueLimit: 2 });
    const lease = await q.acquire('a');
    const second = q.acquire('a');
    lease.release();
    lease.release();
    const l2 = await second;
    expect(q.inUse('a')).toBe(true);
    l2.release();
    expect(q.idle()).toBe(true);
  });
});
