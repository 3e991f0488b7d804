/**
 * Who may use which model now, for every client of one Mai. Concurrent turns for one model queue
 * (at most `queueLimit` waiting per model and client; beyond it, a clear queue-full error), at most
 * `limitOf(model)` run at once (its server's slots, else `perModel`), and a turn that must load its model first (`exclusive`: loading may
 * unload others) runs only when no other model's turn does.
 *
 * When a model frees up, the next turn is, in this order:
 * 1. a waiter passed over `queueLimit` times — strictly first (nobody waits for ever);
 * 2. an interactive turn before any batch turn; batch turns start only while no interactive turn
 *    waits, except that after `queueLimit` interactive turns in a row started while a batch turn
 *    waited, one batch turn goes (a batch run is slowed by editors, never stopped);
 * 3. within a priority, a turn for the model that just ran (models are not swapped back and forth);
 * 4. then clients in turn: the client served longest ago first, each client's turns in arrival
 *    order (round-robin, so one busy client cannot starve another).
 * A waiter ahead of the chosen one in the fair order (2 and 4) counts as passed over, whether for
 * its model (3) or because it could not run yet.
 */
import { LOCAL_CLIENT } from '../clients.ts';
import type { Priority } from '../turn-request.ts';
import { ErrorCodes, MaiError } from '../errors.ts';

export interface ModelQueueOptions {
  queueLimit: number;
  perModel?: number;
  /** The parallel limit of one model (its server's slots), asked each time; undefined: `perModel`. */
  limitOf?: (model: string) => number | undefined;
}

export interface AcquireOptions {
  /** The turn loads its model: nothing else runs beside it. */
  exclusive?: boolean;
  signal?: AbortSignal;
  /** Whose turn this is (a client id; the local client when none). */
  client?: string;
  /** Interactive (the default) before batch. */
  priority?: Priority;
  /** At most this many of the client's leases at once (the turn's `concurrency`); it waits, unpassed, while the client holds as many. */
  clientLimit?: number;
}

export interface Lease {
  readonly model: string;
  release(): void;
}

/** One model's line: turns running on it and turns waiting for it. */
export interface ModelQueueStatus {
  model: string;
  running: number;
  waiting: number;
}

interface Waiter {
  model: string;
  exclusive: boolean;
  client: string;
  priority: Priority;
  clientLimit: number;
  bypassed: number;
  grant(lease: Lease): void;
}

export class ModelQueue {
  private readonly running = new Map<string, number>();
  /** Running leases that loaded their model (nothing else starts beside them). */
  private readonly exclusiveRunning = new Map<string, number>();
  private readonly waiters: Waiter[] = [];
  private activeGroup: string | null = null;
  private readonly perModel: number;
  /** Leases granted so far; a client's place in the round is the grant it last had. */
  private grants = 0;
  private readonly lastServed = new Map<string, number>();
  /** Running leases per client (a client's place is kept while it has any). */
  private readonly holding = new Map<string, number>();
  /** Interactive turns started in a row while a batch turn waited. */
  private batchPassed = 0;

  constructor(private readonly options: ModelQueueOptions) {
    this.perModel = options.perModel ?? 1;
  }

  /** Waits for a turn on `model`; rejects with queue-full past the bound, or with the signal's reason. */
  acquire(model: string, options: AcquireOptions = {}): Promise<Lease> {
    const { signal } = options;
    const client = options.client ?? LOCAL_CLIENT;
    if (signal?.aborted) return Promise.reject(new MaiError(ErrorCodes.cancelled, 'The turn was cancelled while waiting for its model.', { retryable: false }));
    const waiting = this.waiters.filter((w) => w.model === model && w.client === client).length;
    if (waiting >= this.options.queueLimit) {
      return Promise.reject(
        new MaiError(
          ErrorCodes.queueFull,
          `${waiting} turns are already waiting for ${model} (fallback.queueLimit is ${this.options.queueLimit}). Try again when the earlier turns are answered, or raise fallback.queueLimit (it bounds each client's waiting turns per model).`,
          { retryable: false, data: { model, waiting, limit: this.options.queueLimit, client } },
        ),
      );
    }
    return new Promise<Lease>((resolve, reject) => {
      let listening = false;
      const onAbort = () => {
        const i = this.waiters.indexOf(waiter);
        if (i !== -1) this.waiters.splice(i, 1);
        this.forgetIfGone(client);
        reject(new MaiError(ErrorCodes.cancelled, 'The turn was cancelled while waiting for its model.', { retryable: false }));
        this.pump();
      };
      const waiter: Waiter = {
        model,
        exclusive: options.exclusive ?? false,
        client,
        priority: options.priority ?? 'interactive',
        clientLimit: options.clientLimit ?? Number.POSITIVE_INFINITY,
        bypassed: 0,
        grant: (lease) => {
          if (listening) signal?.removeEventListener('abort', onAbort);
          resolve(lease);
        },
      };
      // A client new to the round goes after those served before the last grant, before the last one served.
      if (!this.lastServed.has(client)) this.lastServed.set(client, this.grants - 0.5);
      // Nobody waits and it may run: granted now, as pick() would, with no fair order to build and no listener to add and remove.
      if (this.waiters.length === 0 && !this.heldBack(waiter) && this.canRun(waiter)) {
        this.batchPassed = 0;
        this.start(waiter);
        return;
      }
      listening = true;
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
      this.pump();
    });
  }

  /** Turns waiting (not running) for `model`. */
  waiting(model: string): number {
    return this.waiters.filter((w) => w.model === model).length;
  }

  /** Turns of `client` waiting for any model. */
  waitingOf(client: string): number {
    return this.waiters.filter((w) => w.client === client).length;
  }

  /** Every model with a turn running or waiting. */
  status(): ModelQueueStatus[] {
    const models = new Set([...this.running.keys(), ...this.waiters.map((w) => w.model)]);
    return [...models].sort().map((model) => ({ model, running: this.running.get(model) ?? 0, waiting: this.waiting(model) }));
  }

  /** True while a turn runs on `model` (the switcher never unloads it then). */
  inUse(model: string): boolean {
    return (this.running.get(model) ?? 0) > 0;
  }

  /** Nothing running, nothing waiting (the switcher preloads only then). */
  idle(): boolean {
    return this.running.size === 0 && this.waiters.length === 0;
  }

  /** Per model, the turns waiting and running now (for the metrics' queue-depth gauge). */
  depths(): Array<{ model: string; waiting: number; running: number }> {
    const by = new Map<string, { model: string; waiting: number; running: number }>();
    const of = (model: string) => by.get(model) ?? by.set(model, { model, waiting: 0, running: 0 }).get(model)!;
    for (const w of this.waiters) of(w.model).waiting++;
    for (const [model, n] of this.running) of(model).running += n;
    return [...by.values()];
  }

  /** Its client already runs as many leases as the client allows. */
  private heldBack(w: Waiter): boolean {
    return (this.holding.get(w.client) ?? 0) >= w.clientLimit;
  }

  private canRun(w: Waiter): boolean {
    if ((this.running.get(w.model) ?? 0) >= (this.options.limitOf?.(w.model) ?? this.perModel)) return false;
    for (const [model] of this.exclusiveRunning) if (model !== w.model) return false;
    if (w.exclusive) for (const [model] of this.running) if (model !== w.model) return false;
    return true;
  }

  /** Starts what may run now (after a model's limit changed). */
  recheck(): void {
    this.pump();
  }

  private pump(): void {
    for (;;) {
      const next = this.pick();
      if (!next) return;
      this.waiters.splice(this.waiters.indexOf(next), 1);
      this.start(next);
    }
  }

  /** A priority's waiters in fair order: clients by the grant they last had, their turns interleaved. */
  private fairOrder(priority: Priority): Waiter[] {
    const byClient = new Map<string, Waiter[]>();
    for (const w of this.waiters) {
      // Held back by its own client's limit: not in line (never counted as passed over) until a lease of that client ends.
      if (w.priority !== priority || this.heldBack(w)) continue;
      const line = byClient.get(w.client);
      if (line) line.push(w);
      else byClient.set(w.client, [w]);
    }
    const lines = [...byClient.entries()].sort(([a], [b]) => (this.lastServed.get(a) ?? 0) - (this.lastServed.get(b) ?? 0)).map(([, line]) => line);
    const order: Waiter[] = [];
    const longest = Math.max(0, ...lines.map((line) => line.length));
    for (let round = 0; round < longest; round++) for (const line of lines) if (round < line.length) order.push(line[round]!);
    return order;
  }

  private pick(): Waiter | undefined {
    if (this.waiters.length === 0) return undefined;
    const interactive = this.fairOrder('interactive');
    const batch = this.fairOrder('batch');
    const bound = this.options.queueLimit;
    // Passed over too often: strictly first now.
    const aged = interactive.find((w) => w.bypassed >= bound) ?? batch.find((w) => w.bypassed >= bound);
    if (aged) return this.canRun(aged) ? aged : undefined;
    const batchDue = batch.length > 0 && (interactive.length === 0 || this.batchPassed >= bound);
    const order = batchDue ? batch : interactive;
    const group = this.activeGroup;
    const preferred = group ? [...order.filter((w) => w.model === group), ...order.filter((w) => w.model !== group)] : order;
    const chosen = preferred.find((w) => this.canRun(w));
    if (!chosen) return undefined;
    for (const w of order) {
      if (w === chosen) break;
      w.bypassed++;
    }
    this.batchPassed = chosen.priority === 'batch' ? 0 : batch.length > 0 ? this.batchPassed + 1 : 0;
    return chosen;
  }

  private start(w: Waiter): void {
    const { model, client } = w;
    this.running.set(model, (this.running.get(model) ?? 0) + 1);
    if (w.exclusive) this.exclusiveRunning.set(model, (this.exclusiveRunning.get(model) ?? 0) + 1);
    this.activeGroup = model;
    this.lastServed.set(client, ++this.grants);
    this.holding.set(client, (this.holding.get(client) ?? 0) + 1);
    let released = false;
    w.grant({
      model,
      release: () => {
        if (released) return;
        released = true;
        decrement(this.running, model);
        if (w.exclusive) decrement(this.exclusiveRunning, model);
        decrement(this.holding, client);
        this.forgetIfGone(client);
        this.pump();
      },
    });
  }

  /** A client with nothing running and nothing waiting leaves the round (it rejoins when it sends again). */
  private forgetIfGone(client: string): void {
    if (!this.holding.has(client) && !this.waiters.some((w) => w.client === client)) this.lastServed.delete(client);
  }
}

function decrement(map: Map<string, number>, key: string): void {
  const n = (map.get(key) ?? 0) - 1;
  if (n <= 0) map.delete(key);
  else map.set(key, n);
}
