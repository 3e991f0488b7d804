/**
 * Who may use which model now. Concurrent turns for one model queue (at most `queueLimit` waiting
 * per model; beyond it, a clear queue-full error), at most `perModel` run at once, and a turn that
 * must load its model first (`exclusive`: loading may unload others) runs only when no other
 * model's turn does. Queued turns are grouped by model: when a turn ends, the waiters for the
 * model that just ran go first, so models are not swapped back and forth — until the oldest waiter
 * has been passed over `queueLimit` times, which then goes first (nobody waits for ever).
 */
import { ErrorCodes, MaiError } from '../errors.ts';

export interface ModelQueueOptions {
  queueLimit: number;
  perModel?: number;
}

export interface Lease {
  readonly model: string;
  release(): void;
}

interface Waiter {
  model: string;
  exclusive: boolean;
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

  constructor(private readonly options: ModelQueueOptions) {
    this.perModel = options.perModel ?? 1;
  }

  /** Waits for a turn on `model`; rejects with queue-full past the bound, or with the signal's reason. */
  acquire(model: string, options: { exclusive?: boolean; signal?: AbortSignal } = {}): Promise<Lease> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(new MaiError(ErrorCodes.cancelled, 'The turn was cancelled while waiting for its model.', { retryable: false }));
    const waiting = this.waiting(model);
    if (waiting >= this.options.queueLimit) {
      return Promise.reject(
        new MaiError(
          ErrorCodes.queueFull,
          `${waiting} turns are already waiting for ${model} (fallback.queueLimit is ${this.options.queueLimit}). Try again when the earlier turns are answered, or raise fallback.queueLimit.`,
          { retryable: false, data: { model, waiting, limit: this.options.queueLimit } },
        ),
      );
    }
    return new Promise<Lease>((resolve, reject) => {
      const onAbort = () => {
        const i = this.waiters.indexOf(waiter);
        if (i !== -1) this.waiters.splice(i, 1);
        reject(new MaiError(ErrorCodes.cancelled, 'The turn was cancelled while waiting for its model.', { retryable: false }));
        this.pump();
      };
      const waiter: Waiter = {
        model,
        exclusive: options.exclusive ?? false,
        bypassed: 0,
        grant: (lease) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(lease);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
      this.pump();
    });
  }

  /** Turns waiting (not running) for `model`. */
  waiting(model: string): number {
    return this.waiters.filter((w) => w.model === model).length;
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

  private canRun(w: Waiter): boolean {
    if ((this.running.get(w.model) ?? 0) >= this.perModel) return false;
    for (const [model] of this.exclusiveRunning) if (model !== w.model) return false;
    if (w.exclusive) for (const [model] of this.running) if (model !== w.model) return false;
    return true;
  }

  private pump(): void {
    for (;;) {
      const next = this.pick();
      if (!next) return;
      this.waiters.splice(this.waiters.indexOf(next), 1);
      this.start(next);
    }
  }

  private pick(): Waiter | undefined {
    const oldest = this.waiters[0];
    if (!oldest) return undefined;
    // Passed over too often: strictly first now.
    if (oldest.bypassed >= this.options.queueLimit) return this.canRun(oldest) ? oldest : undefined;
    const group = this.activeGroup;
    const ordered = group ? [...this.waiters.filter((w) => w.model === group), ...this.waiters.filter((w) => w.model !== group)] : this.waiters;
    const chosen = ordered.find((w) => this.canRun(w));
    if (chosen) {
      for (const w of this.waiters) {
        if (w === chosen) break;
        w.bypassed++;
      }
    }
    return chosen;
  }

  private start(w: Waiter): void {
    const model = w.model;
    this.running.set(model, (this.running.get(model) ?? 0) + 1);
    if (w.exclusive) this.exclusiveRunning.set(model, (this.exclusiveRunning.get(model) ?? 0) + 1);
    this.activeGroup = model;
    let released = false;
    w.grant({
      model,
      release: () => {
        if (released) return;
        released = true;
        decrement(this.running, model);
        if (w.exclusive) decrement(this.exclusiveRunning, model);
        this.pump();
      },
    });
  }
}

function decrement(map: Map<string, number>, key: string): void {
  const n = (map.get(key) ?? 0) - 1;
  if (n <= 0) map.delete(key);
  else map.set(key, n);
}
