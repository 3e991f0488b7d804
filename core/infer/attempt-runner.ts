/**
 * Follows the fallback plan until one attempt answers: waits the step's delay, tells the client to
 * `restart` when text from an earlier attempt had reached it, takes the model's place in the queue,
 * loads the model when it is not (bounded like a first token while loading), streams the attempt, and
 * on a failure records it and asks the plan for the next step. Cancellation and errors that are not
 * retryable end the turn at once; a plan that runs out is all-attempts-failed with every attempt's why.
 */
import { deadline } from '../deadline.ts';
import { ErrorCodes, MaiError } from '../errors.ts';
import type { ModelQueue } from '../fallback/model-queue.ts';
import type { ReplicaRouter, Routed } from '../load/replica-router.ts';
import type { TurnContext } from '../pipeline/turn.ts';
import type { AttemptStep } from '../fallback/attempt-plan.ts';
import type { Switcher } from '../select/switcher.ts';
import type { AttemptEvent, Backend, CatalogModel } from '../types.ts';
import { streamAttempt, type AttemptOutcome, type AttemptTimeouts } from './stream-attempt.ts';

export interface AttemptRunnerOptions {
  backendOf: (model: CatalogModel) => Backend;
  timeouts: AttemptTimeouts;
  /** Turns for one model wait their turn here (bounded; grouped by model). */
  queue?: ModelQueue;
  /** Unloads and loads models so the attempt's model is ready. */
  switcher?: Switcher;
  /** Told about every attempt (scorers learn latency and reliability from it). */
  onAttempt?: (event: AttemptEvent) => void;
  /** Picks the server (replica) that answers each attempt, and tells it how the attempt went. */
  replicas?: ReplicaRouter;
  /** Told when the turn moves to another model. */
  onFallback?: (from: string, to: string, error: MaiError) => void;
}

/** The attempt that answered: its model and what it produced. */
export interface Answer {
  model: CatalogModel;
  outcome: AttemptOutcome;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export function createAttemptRunner(options: AttemptRunnerOptions): (turn: TurnContext) => Promise<Answer> {
  const { timeouts } = options;

  /** Loads the model when it is not (unloading what must go); true when this call loaded it. */
  async function load(turn: TurnContext, model: CatalogModel): Promise<boolean> {
    if (!options.switcher || model.loaded) return false;
    const ms = timeouts.loadingFirstTokenTimeoutMs;
    const limit = deadline(ms, turn.signal);
    try {
      return (await options.switcher.prepare(model, limit.signal)).loaded;
    } catch (error) {
      if (turn.signal.aborted) throw new MaiError(ErrorCodes.cancelled, 'The turn was cancelled.', { cause: error, retryable: false });
      if (limit.signal.aborted) throw new MaiError(ErrorCodes.timeout, `${model.id} did not load within ${ms} ms.`, { cause: error, data: { model: model.id, timeoutMs: ms } });
      throw MaiError.from(error, ErrorCodes.serverError);
    } finally {
      limit.clear();
    }
  }

  /** One step: the queue's lease, the load, the stream; the lease is released however it ends. */
  async function leaseLoadAndStream(turn: TurnContext, model: CatalogModel, key: string): Promise<AttemptOutcome> {
    // Queue-full and cancellation while queued are not retryable: the turn ends with them.
    const waitFrom = performance.now();
    const lease = await options.queue?.acquire(key, {
      exclusive: !model.loaded && model.local !== false,
      signal: turn.signal,
      ...(turn.request.client ? { client: turn.request.client } : {}),
      ...(turn.request.priority ? { priority: turn.request.priority } : {}),
      ...(turn.request.concurrency ? { clientLimit: turn.request.concurrency } : {}),
    });
    try {
      const loadFrom = performance.now();
      turn.observe?.({ kind: 'queued', model, waitMs: loadFrom - waitFrom });
      const loaded = await load(turn, model);
      if (loaded) turn.observe?.({ kind: 'loaded', model, loadMs: performance.now() - loadFrom });
      return await streamAttempt(turn, model, options.backendOf(model), timeouts, !model.loaded && !loaded);
    } finally {
      lease?.release();
    }
  }

  return async function runAttempts(turn) {
    const plan = turn.plan!;
    let step: AttemptStep | null = plan.first();
    while (step) {
      if (step.delayMs > 0) await sleep(step.delayMs, turn.signal);
      if (turn.signal.aborted) throw new MaiError(ErrorCodes.cancelled, 'The turn was cancelled.', { retryable: false });
      // The replica that answers this attempt (the least-loaded healthy one, or the conversation's last).
      const routed: Routed = options.replicas?.route(turn, step.model) ?? { model: step.model, key: step.model.id, done: () => {} };
      const model = routed.model;
      if (turn.streamed) {
        turn.emit({ kind: 'restart', model: model.id });
        turn.streamed = false;
      }
      try {
        const outcome = await leaseLoadAndStream(turn, model, routed.key);
        routed.done();
        turn.attempts.push({ model: model.id });
        const { timeToFirstTokenMs, tokensPerSecond, durationMs } = outcome;
        const event: AttemptEvent = { model: model.id, ok: true, timeToFirstTokenMs, tokensPerSecond, durationMs, at: Date.now() };
        options.onAttempt?.(event);
        turn.observe?.({ kind: 'attempt', model, event });
        return { model, outcome };
      } catch (error) {
        const failure = MaiError.from(error);
        routed.done(failure);
        if (failure.code === ErrorCodes.cancelled) throw failure;
        turn.attempts.push({ model: model.id, error: { code: failure.code, message: failure.message } });
        const event: AttemptEvent = { model: model.id, ok: false, error: failure, at: Date.now() };
        options.onAttempt?.(event);
        turn.observe?.({ kind: 'attempt', model, event });
        if (!failure.retryable) throw failure;
        // Another replica of the same model goes before any other model.
        step = options.replicas?.hasAnother(turn, step.model) ? { model: step.model, delayMs: 0, retry: true } : plan.next(model, failure);
        if (step && step.model.id !== model.id) options.onFallback?.(model.id, step.model.id, failure);
      }
    }
    throw new MaiError(ErrorCodes.allAttemptsFailed, `Every model failed this turn: ${turn.attempts.map((a) => `${a.model}: ${a.error?.message ?? 'ok'}`).join('; ')}`, {
      retryable: false,
      data: { attempts: turn.attempts },
    });
  };
}
