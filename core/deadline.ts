/**
 * A signal that aborts when its parent does or when its time is up, with a `clear()` that drops
 * the timer and the link to the parent once the work is done.
 *
 * Why not `AbortSignal.any([parent, AbortSignal.timeout(ms)])`: on Node 20 the timeout signal
 * inside such a composite is held only weakly, so a garbage collection before the time is up
 * loses it and the composite never aborts (nodejs/node#57736): a request to a server that never
 * answers then hangs past its limit for good. Here the timer holds the controller strongly, and
 * clearing it leaves no timer behind.
 */
export interface Deadline {
  readonly signal: AbortSignal;
  /** Stops the timer and detaches from the parent; the signal stays as it is. */
  clear(): void;
}

export function deadline(ms: number, parent?: AbortSignal): Deadline {
  const controller = new AbortController();
  const onAbort = () => {
    clearTimeout(timer);
    controller.abort(parent?.reason);
  };
  const timer = setTimeout(() => {
    parent?.removeEventListener('abort', onAbort);
    controller.abort(new DOMException(`The operation timed out after ${ms} ms.`, 'TimeoutError'));
  }, ms);
  if (parent?.aborted) onAbort();
  else parent?.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    clear: () => {
      clearTimeout(timer);
      parent?.removeEventListener('abort', onAbort);
    },
  };
}
