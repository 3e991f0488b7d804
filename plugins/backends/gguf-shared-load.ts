/**
 * Model loads shared by everyone who waits for them. Each load has its own AbortSignal, not its first caller's: a
 * caller that gives up (its signal aborts) stops waiting at once, and the load itself is cancelled only when every
 * caller waiting for it has given up. (With node-llama-cpp given the first caller's signal, an idle preload that was
 * cancelled or timed out failed the turn that waited for the same load.)
 */

interface SharedLoad<T> {
  promise: Promise<T>;
  controller: AbortController;
  waiting: number;
}

export interface SharedLoadsOptions {
  /** The error a caller that gave up gets. */
  cancelled: (id: string, cause: unknown) => Error;
  /** Called when a load is cancelled because nobody waits for it any more, so it is no longer offered to new callers. */
  abandoned: (id: string, load: Promise<unknown>) => void;
}

export class SharedLoads<T> {
  private readonly underWay = new Map<string, SharedLoad<T>>();

  constructor(private readonly options: SharedLoadsOptions) {}

  /** Starts loading `id` with a signal of its own; join() to wait for it. */
  start(id: string, load: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    const promise = load(controller.signal);
    const shared: SharedLoad<T> = { promise, controller, waiting: 0 };
    this.underWay.set(id, shared);
    const ended = () => {
      if (this.underWay.get(id) === shared) this.underWay.delete(id);
    };
    promise.then(ended, ended);
    return promise;
  }

  /** Waits for `promise` (a load start() returned, or one that ended) as one caller, until it settles or `signal` aborts. */
  join(id: string, promise: Promise<T>, signal?: AbortSignal): Promise<T> {
    const shared = this.underWay.get(id);
    if (shared?.promise !== promise) return promise; // settled already: nothing to give up on
    if (signal?.aborted) {
      this.leave(id, shared, signal.reason);
      return Promise.reject(this.options.cancelled(id, signal.reason));
    }
    shared.waiting++;
    if (!signal) return promise; // a caller that cannot give up keeps the load going
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        shared.waiting--;
        this.leave(id, shared, signal.reason);
        reject(this.options.cancelled(id, signal.reason));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const settle = () => signal.removeEventListener('abort', onAbort);
      promise.then(
        (value) => (settle(), resolve(value)),
        (error: unknown) => (settle(), reject(error)),
      );
    });
  }

  /** A caller gave up: with nobody left waiting, the load is cancelled and forgotten (a later caller starts anew). */
  private leave(id: string, shared: SharedLoad<T>, reason: unknown): void {
    if (shared.waiting > 0) return;
    if (this.underWay.get(id) === shared) this.underWay.delete(id);
    this.options.abandoned(id, shared.promise);
    shared.controller.abort(reason);
  }
}
