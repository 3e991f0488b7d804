/**
 * One attempt: one model's backend streams the answer to the turn's prompt. Every delta goes to the
 * client as it comes; the first-token timeout (longer for a model still loading) and the total timeout
 * abort the backend request, as does the turn's own cancellation. A stream that ends without its final
 * chunk, or with no text, is a failure like any other, for the plan to act on.
 */
import type { FallbackConfig } from '../config/schema.ts';
import { ErrorCodes, isAbortError, MaiError } from '../errors.ts';
import type { TurnContext } from '../pipeline/turn.ts';
import type { Backend, CatalogModel, FinishReason, Usage } from '../types.ts';

export type AttemptTimeouts = Pick<FallbackConfig, 'firstTokenTimeoutMs' | 'loadingFirstTokenTimeoutMs' | 'totalTimeoutMs'> & Partial<Pick<FallbackConfig, 'stallTimeoutMs'>>;

/** What an attempt that answered produced, and how fast. */
export interface AttemptOutcome {
  text: string;
  finishReason: FinishReason;
  usage: Usage;
  timeToFirstTokenMs: number;
  tokensPerSecond: number;
  durationMs: number;
}

/** `loading`: the model was not loaded before this request (it loads on it), so its first token may take longer. */
export async function streamAttempt(turn: TurnContext, model: CatalogModel, backend: Backend, timeouts: AttemptTimeouts, loading: boolean): Promise<AttemptOutcome> {
  const transcript = turn.transcript!;
  const controller = new AbortController();
  const onTurnAbort = () => controller.abort(turn.signal.reason);
  turn.signal.addEventListener('abort', onTurnAbort, { once: true });
  const firstTokenMs = loading ? timeouts.loadingFirstTokenTimeoutMs : timeouts.firstTokenTimeoutMs;
  let timeoutError: MaiError | null = null;
  const expire = (what: string, ms: number) => () => {
    timeoutError = new MaiError(ErrorCodes.timeout, `${model.id} ${what} within ${ms} ms.`, { data: { model: model.id, timeoutMs: ms } });
    controller.abort(timeoutError);
  };
  let firstTokenTimer: ReturnType<typeof setTimeout> | undefined = setTimeout(expire('sent no token', firstTokenMs), firstTokenMs);
  const totalTimer = setTimeout(expire('did not finish', timeouts.totalTimeoutMs), timeouts.totalTimeoutMs);
  // Once tokens flow, a stream that stops sending (a stalled server) is cut like any other failure.
  // One timer for the whole stream: each token only notes its time, and the timer, when it fires,
  // sleeps again for what is left since the latest one (clearing and setting a timer per token cost
  // more than anything else Mai does with a token besides sending it).
  const stallMs = timeouts.stallTimeoutMs;
  let stallTimer: ReturnType<typeof setTimeout> | undefined;
  let lastTokenAt = 0;
  const stalled = (ms: number): void => {
    const left = ms - (performance.now() - lastTokenAt);
    stallTimer = left > 0 ? setTimeout(stalled, left, ms) : undefined;
    if (!stallTimer) expire('stalled: it sent no further token', ms)();
  };
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
        if (stallMs !== undefined) {
          lastTokenAt = performance.now();
          stallTimer ??= setTimeout(stalled, stallMs, stallMs);
        }
        chunks++;
        text += chunk.text;
        turn.streamed = true;
        turn.emit({ kind: 'delta', text: chunk.text, model: model.id });
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
    clearTimeout(stallTimer);
    clearTimeout(totalTimer);
    turn.signal.removeEventListener('abort', onTurnAbort);
  }
}
