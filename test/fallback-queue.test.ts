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

/** Like recorder, with a client and a priority per turn; releasing a label runs the next. */
function clientRecorder(queue: ModelQueue) {
  const granted: string[] = [];
  const leases = new Map<string, Lease>();
  const take = (label: string, options: { model?: string; client: string; priority?: 'interactive' | 'batch'; exclusive?: boolean; signal?: AbortSignal }) =>
    queue.acquire(options.model ?? 'm', options).then((lease) => {
      granted.push(label);
      leases.set(label, lease);
      return lease;
    });
  /** Releases the newest lease, `n` times: each release lets the queue pick the next. */
  const drain = async (n = Infinity) => {
    for (let i = 0; i < n && leases.size > 0; i++) {
      const [label, lease] = [...leases.entries()].at(-1)!;
      leases.delete(label);
      lease.release();
      await tick();
    }
  };
  return { granted, take, drain };
}

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

  it('interactive turns go before batch turns queued earlier: one batch turn in progress is all they wait for', async () => {
    const q = new ModelQueue({ queueLimit: 64 });
    const r = clientRecorder(q);
    for (let i = 1; i <= 50; i++) void r.take(`b${i}`, { client: 'batch', priority: 'batch' });
    await tick();
    expect(r.granted).toEqual(['b1']);
    void r.take('i1', { client: 'editor' });
    void r.take('i2', { client: 'editor' });
    await tick();
    await r.drain(3);
    expect(r.granted).toEqual(['b1', 'i1', 'i2', 'b2']);
    expect(q.status()).toEqual([{ model: 'm', running: 1, waiting: 48 }]);
  });

  it('an interactive turn for another model is not overtaken by batch turns on the running model', async () => {
    const q = new ModelQueue({ queueLimit: 8, perModel: 2 });
    const r = clientRecorder(q);
    void r.take('b1', { client: 'batch', priority: 'batch', model: 'x' });
    void r.take('i1', { client: 'editor', model: 'y', exclusive: true });
    void r.take('b2', { client: 'batch', priority: 'batch', model: 'x' });
    await tick();
    // x has a free slot, but b2 would delay the interactive turn's load of y.
    expect(r.granted).toEqual(['b1']);
    await r.drain(1);
    expect(r.granted).toEqual(['b1', 'i1']);
    await r.drain(1);
    expect(r.granted).toEqual(['b1', 'i1', 'b2']);
  });

  it('a batch turn is passed over by at most queueLimit interactive turns in a row', async () => {
    const q = new ModelQueue({ queueLimit: 3 });
    const r = clientRecorder(q);
    void r.take('i0', { client: 'e' });
    void r.take('b1', { client: 'batch', priority: 'batch' });
    void r.take('b2', { client: 'batch', priority: 'batch' });
    for (const client of ['e', 'f', 'g']) for (let i = 1; i <= 3; i++) void r.take(`i-${client}${i}`, { client });
    await tick();
    await r.drain();
    expect(r.granted.map((label) => label[0]).join('')).toBe('iiiibiiibiii');
  });

  it('two busy clients of one priority take turns, whoever queued first', async () => {
    const q = new ModelQueue({ queueLimit: 16 });
    const r = clientRecorder(q);
    for (let i = 1; i <= 5; i++) void r.take(`a${i}`, { client: 'a' });
    for (let i = 1; i <= 5; i++) void r.take(`b${i}`, { client: 'b' });
    await tick();
    await r.drain();
    expect(r.granted).toEqual(['a1', 'b1', 'a2', 'b2', 'a3', 'b3', 'a4', 'b4', 'a5', 'b5']);
  });

  it('three clients round-robin; a client that comes back joins the round instead of jumping it', async () => {
    const q = new ModelQueue({ queueLimit: 16 });
    const r = clientRecorder(q);
    for (let i = 1; i <= 3; i++) void r.take(`a${i}`, { client: 'a' });
    for (let i = 1; i <= 3; i++) void r.take(`b${i}`, { client: 'b' });
    void r.take('c1', { client: 'c' });
    await tick();
    await r.drain(3); // a1, then b1, c1 ran
    expect(r.granted).toEqual(['a1', 'b1', 'c1', 'a2']);
    void r.take('c2', { client: 'c' }); // c left the round (nothing queued or running) and comes back
    await tick();
    await r.drain();
    expect(r.granted).toEqual(['a1', 'b1', 'c1', 'a2', 'b2', 'c2', 'a3', 'b3']);
  });

  it('each client has its own queueLimit: a full client does not make another one wait or fail', async () => {
    const q = new ModelQueue({ queueLimit: 2 });
    const r = clientRecorder(q);
    void r.take('a1', { client: 'a', priority: 'batch' });
    void r.take('a2', { client: 'a', priority: 'batch' });
    void r.take('a3', { client: 'a', priority: 'batch' });
    const full = await q.acquire('m', { client: 'a', priority: 'batch' }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isMaiError(full, 'queue-full')).toBe(true);
    void r.take('e1', { client: 'editor' });
    await tick();
    expect(q.waitingOf('a')).toBe(2);
    expect(q.waitingOf('editor')).toBe(1);
    await r.drain(1);
    expect(r.granted).toEqual(['a1', 'e1']);
  });

  it('grouping by model still holds between clients, and the client passed over for it is bounded by queueLimit', async () => {
    const q = new ModelQueue({ queueLimit: 2 });
    const r = clientRecorder(q);
    void r.take('x1', { client: 'a', model: 'x', exclusive: true });
    void r.take('y1', { client: 'b', model: 'y', exclusive: true });
    void r.take('y2', { client: 'b', model: 'y', exclusive: true });
    void r.take('x2', { client: 'a', model: 'x' });
    await tick();
    await r.drain(1); // x2 (its model just ran); y1 passed over once
    void r.take('x3', { client: 'a', model: 'x' });
    await r.drain(1); // x3; y1 passed over twice
    void r.take('x4', { client: 'a', model: 'x' });
    await r.drain();
    expect(r.granted).toEqual(['x1', 'x2', 'x3', 'y1', 'y2', 'x4']);
  });

  it('a client\'s waiting turns leave the queue when their signals abort; the other client\'s stay', async () => {
    const q = new ModelQueue({ queueLimit: 8 });
    const r = clientRecorder(q);
    const gone = new AbortController();
    void r.take('a1', { client: 'a' });
    const aborted = [2, 3].map((i) => q.acquire('m', { client: 'b', signal: gone.signal }).then(() => `b${i}`, (e: unknown) => e));
    void r.take('a2', { client: 'a' });
    await tick();
    gone.abort();
    for (const result of await Promise.all(aborted)) expect(isMaiError(result, 'cancelled')).toBe(true);
    expect(q.waitingOf('b')).toBe(0);
    await r.drain();
    expect(r.granted).toEqual(['a1', 'a2']);
    expect(q.idle()).toBe(true);
  });
});
