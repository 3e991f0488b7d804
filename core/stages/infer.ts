/**
 * infer — works after next(): once fallback has handed it the plan and context the transcript,
 * it streams the answer from the chosen backend, following the plan on each failure. Deltas go to
 * the client as they come; if a later attempt starts after text was streamed, the client is told
 * to `restart`. Cancellation and the first-token/total timeouts abort the backend request.
 */
import type { FallbackConfig } from '../config/schema.ts';
import { ErrorCodes, isAbortError, MaiError } from '../errors.ts';
import type { Lease, ModelQueue } from '../fallback/model-queue.ts';
import type { Middleware } from '../pipeline/compose.ts';
import type { AttemptStep, TurnContext } from '../pipeline/turn.ts';
import type { Switcher } from '../select/switcher.ts';
import type { AttemptEvent, Backend, CatalogModel, FinishReason, Usage } from '../types.ts';

export interface InferStageOptions {
  backendOf: (model: CatalogModel) => Backend;
  timeouts: Pick<FallbackConfig, 'firstTokenTimeoutMs' | 'loadingFirstTokenTimeoutMs' | 'totalTimeoutMs'>;
  /** Turns for one model wait their turn here (bounded; grouped by model). */
  queue?: ModelQueue;
  /** Unloads and loads models so the attempt's model is ready. */
  switcher?: Switcher;
  /** Told about every attempt (scorers learn latency and reliability from it). */
  onAttempt?: (event: AttemptEvent) => void;
  /** Told when the turn moves to another model. */
  onFallback?: (from: string, to: string, error: MaiError) => void;
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

interface AttemptOutcome {
  text: string;
  finishReason: FinishReason;
  usage: Usage;
  timeToFirstTokenMs: number;
  tokensPerSecond: number;
  durationMs: number;
}

export function inferStage(options: InferStageOptions): Middleware<TurnContext> {
  const { timeouts } = options;

  /** Loads the model when it is not (unloading what must go), bounded like a first token while loading. */
  async function prepare(turn: TurnContext, model: CatalogModel): Promise<boolean> {
    if (!options.switcher || model.loaded) return false;
    const ms = timeouts.loadingFirstTokenTimeoutMs;
    const signal = AbortSignal.any([turn.signal, AbortSignal.timeout(ms)]);
    try {
      return (await options.switcher.prepare(model, signal)).loaded;
    } catch (error) {
      if (turn.signal.aborted) throw new MaiError(ErrorCodes.cancelled, 'The turn was cancelled.', { cause: error, retryable: false });
      if (signal.aborted) throw new MaiError(ErrorCodes.timeout, `${model.id} did not load within ${ms} ms.`, { cause: error, data: { model: model.id, timeoutMs: ms } });
      throw MaiError.from(error, ErrorCodes.serverError);
    }
  }

  async function attempt(turn: TurnContext, model: CatalogModel, loading: boolean): Promise<AttemptOutcome> {
    const transcript = turn.transcript!;
    const backend = options.backendOf(model);
    const controller = new AbortController();
    const onTurnAbort = () => controller.abort(turn.signal.reason);
    turn.signal.addEventListener('abort', onTurnAbort, { once: true });
    // A model still loading (on its first request) gets the longer first-token timeout.
    const firstTokenMs = loading ? timeouts.loadingFirstTokenTimeoutMs : timeouts.firstTokenTimeoutMs;
    let timeoutError: MaiError | null = null;
    const expire = (what: string, ms: number) => () => {
      timeoutError = new MaiError(ErrorCodes.timeout, `${model.id} ${what} within ${ms} ms.`, { data: { model: model.id, timeoutMs: ms } });
      controller.abort(timeoutError);
    };
    let firstTokenTimer: ReturnType<typeof setTimeout> | undefined = setTimeout(expire('sent no token', firstTokenMs), firstTokenMs);
    const totalTimer = setTimeout(expire('did not finish', timeouts.totalTimeoutMs), timeouts.totalTimeoutMs);
    const started = performance.now();
    let firstTokenAt = 0;
    let text = '';
    let chunks = 0;
    try {
      const prompt = await transcript.prompt(model, controller.signal);
      let finishReason: FinishReason | null = null;
      let usage: Usage | undefined;
      for await (const chunk of backend.chat({
        model: model.backendModelId,
        messages: prompt.messages,
        maxTokens: prompt.maxTokens,
        contextSize: prompt.contextSize,
        promptTokens: prompt.promptTokens,
        signal: controller.signal,
        ...(turn.request.temperature === undefined ? {} : { temperature: turn.request.temperature }),
      })) {
        if (chunk.type === 'delta') {
          if (chunk.text === '') continue;
          if (firstTokenTimer) {
            clearTimeout(firstTokenTimer);
            firstTokenTimer = undefined;
            firstTokenAt = performance.now();
          }
          chunks++;
          text += chunk.text;
          turn.streamed = true;
          turn.emit({ kind: 'delta', text: chunk.text });
        } else {
          finishReason = chunk.finishReason;
          usage = chunk.usage;
        }
      }
      if (finishReason === null) {
        throw new MaiError(ErrorCodes.streamCut, `${model.id}'s stream ended without its final chunk.`, { data: { model: model.id } });
      }
      if (text.trim() === '') {
        throw new MaiError(ErrorCodes.emptyReply, `${model.id} answered with no text.`, { data: { model: model.id } });
      }
      const seconds = (performance.now() - (firstTokenAt || started)) / 1000;
      return {
        text,
        finishReason,
        usage: usage ?? { promptTokens: prompt.promptTokens, completionTokens: chunks },
        timeToFirstTokenMs: (firstTokenAt || performance.now()) - started,
        tokensPerSecond: seconds > 0 ? chunks / seconds : chunks,
        durationMs: performance.now() - started,
      };
    } catch (error) {
      if (timeoutError) throw timeoutError;
      if (turn.signal.aborted) throw new MaiError(ErrorCodes.cancelled, 'The turn was cancelled.', { cause: error, retryable: false });
      if (isAbortError(error)) throw new MaiError(ErrorCodes.cancelled, 'The backend request was aborted.', { cause: error, retryable: false });
      throw MaiError.from(error, ErrorCodes.serverError);
    } finally {
      if (firstTokenTimer) clearTimeout(firstTokenTimer);
      clearTimeout(totalTimer);
      turn.signal.removeEventListener('abort', onTurnAbort);
    }
  }

  return async function infer(turn, next) {
    await next();
    if (!turn.plan || !turn.transcript) {
      throw new MaiError(ErrorCodes.internal, 'infer ran without a plan or a transcript: the fallback and context stages must come after it.');
    }
    let step: AttemptStep | null = turn.plan.first();
    while (step) {
      if (step.delayMs > 0) await sleep(step.delayMs, turn.signal);
      if (turn.signal.aborted) throw new MaiError(ErrorCodes.cancelled, 'The turn was cancelled.', { retryable: false });
      const model = step.model;
      if (turn.streamed) {
        turn.emit({ kind: 'restart', model: model.id });
        turn.streamed = false;
      }
      let outcome: AttemptOutcome;
      let lease: Lease | undefined;
      try {
        // Queue-full and cancellation while queued are not retryable: the turn ends with them.
        lease = await options.queue?.acquire(model.id, { exclusive: !model.loaded, signal: turn.signal });
        const loaded = await prepare(turn, model);
        outcome = await attempt(turn, model, !model.loaded && !loaded);
      } catch (error) {
        const failure = MaiError.from(error);
        if (failure.code === ErrorCodes.cancelled) throw failure;
        turn.attempts.push({ model: model.id, error: { code: failure.code, message: failure.message } });
        options.onAttempt?.({ model: model.id, ok: false, error: failure, at: Date.now() });
        if (!failure.retryable) throw failure;
        step = turn.plan.next(model, failure);
        if (step && step.model.id !== model.id) options.onFallback?.(model.id, step.model.id, failure);
        continue;
      } finally {
        lease?.release();
      }
      turn.attempts.push({ model: model.id });
      options.onAttempt?.({
        model: model.id,
        ok: true,
        timeToFirstTokenMs: outcome.timeToFirstTokenMs,
        tokensPerSecond: outcome.tokensPerSecond,
        durationMs: outcome.durationMs,
        at: Date.now(),
      });
      await turn.transcript.commit({ text: outcome.text, model: model.id, usage: outcome.usage, finishReason: outcome.finishReason });
      turn.result = {
        conversationId: turn.conversationId,
        text: outcome.text,
        model: model.id,
        finishReason: outcome.finishReason,
        usage: outcome.usage,
        attempts: turn.attempts,
        latencyMs: Date.now() - turn.startedAt,
      };
      return;
    }
    throw new MaiError(ErrorCodes.allAttemptsFailed, `Every model failed this turn: ${turn.attempts.map((a) => `${a.model}: ${a.error?.message ?? 'ok'}`).join('; ')}`, {
      retryable: false,
      data: { attempts: turn.attempts },
    });
  };
}
