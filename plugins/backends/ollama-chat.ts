/**
 * Ollama's streamed POST /api/chat (NDJSON) as ChatChunks, with the one check Ollama leaves to
 * its clients: a prompt longer than num_ctx is truncated silently and answered 200. The final
 * line's prompt_eval_count says how many prompt tokens the model actually read; when that is far
 * below what Mai sent, the start of the conversation was dropped and the turn is a context
 * overflow, not an answer.
 */
import { ErrorCodes, MaiError } from '../../core/errors.ts';
import type { ChatChunk, ChatRequest, FinishReason } from '../../core/types.ts';
import type { OllamaChatBody, OllamaChatLine } from './ollama-api.ts';
import { httpStream } from './http.ts';
import { NdjsonLineError, readNdjson } from './ndjson.ts';
import { errorFromStreamBody, normalizeError, type ErrorContext } from './normalize-error.ts';
import { extend } from '../../core/extend.ts';

export interface TruncationCheck {
  /** The prompt's size as Mai counted it (an estimate: it over-counts ordinary text). */
  sentTokens: number | undefined;
  /** prompt_eval_count from the final line. */
  evaluatedTokens: number | undefined;
  /** num_ctx Mai asked for. */
  contextSize: number | undefined;
  /** The share of Mai's estimate a real tokenizer may come in under before it counts as dropped text. */
  tolerance: number;
}

/** Below this many tokens the estimate's per-message overhead dominates: no verdict. */
const SLACK_TOKENS = 32;

/**
 * True when Ollama evidently read less than it was sent. Two signs: the runner cut the prompt to
 * exactly the window (evaluated ≥ num_ctx leaves no room to answer, so it is never a real fit), or
 * the model read less than `tolerance` of Mai's estimate — more than a tokenizer's difference from
 * the estimate (Mai's estimate counts ~3 bytes a token; real tokenizers read ~4 for English).
 */
export function promptWasTruncated(check: TruncationCheck): boolean {
  const { sentTokens, evaluatedTokens, contextSize } = check;
  if (evaluatedTokens === undefined || evaluatedTokens <= 0) return false; // old versions omit it on a cache hit
  if (contextSize !== undefined && evaluatedTokens >= contextSize) return true;
  if (sentTokens === undefined) return false;
  return evaluatedTokens < sentTokens * check.tolerance - SLACK_TOKENS;
}

export interface OllamaChatOptions {
  url: string;
  context: ErrorContext;
  timeoutMs: number;
  keepAlive: string | number | undefined;
  tolerance: number;
}

export function chatBody(request: ChatRequest, keepAlive: string | number | undefined): OllamaChatBody {
  const options: NonNullable<OllamaChatBody['options']> = {};
  if (request.contextSize !== undefined) options.num_ctx = request.contextSize;
  if (request.maxTokens !== undefined) options.num_predict = request.maxTokens;
  if (request.temperature !== undefined) options.temperature = request.temperature;
  return {
    model: request.model,
    messages: request.messages.map((m) => ({ role: m.role, content: m.content })),
    stream: true,
    ...(Object.keys(options).length > 0 ? { options } : {}),
    ...(keepAlive === undefined ? {} : { keep_alive: keepAlive }),
  };
}

function finishReasonOf(line: OllamaChatLine): FinishReason {
  return line.done_reason === 'length' ? 'length' : 'stop';
}

export async function* streamOllamaChat(request: ChatRequest, options: OllamaChatOptions): AsyncGenerator<ChatChunk, void, undefined> {
  const { context } = options;
  const { response, release } = await httpStream(
    options.url,
    extend(context, { body: chatBody(request, options.keepAlive), signal: request.signal, timeoutMs: options.timeoutMs }),
  );
  const streaming: ErrorContext = extend(context, { streaming: true });
  try {
    for await (const value of readNdjson(response)) {
      const line = value as OllamaChatLine;
      if (typeof line.error === 'string') throw errorFromStreamBody(streaming, JSON.stringify({ error: line.error }));
      const text = line.message?.content;
      if (text) yield { type: 'delta', text };
      if (line.done !== true) continue;
      const check: TruncationCheck = {
        sentTokens: request.promptTokens,
        evaluatedTokens: line.prompt_eval_count,
        contextSize: request.contextSize,
        tolerance: options.tolerance,
      };
      if (promptWasTruncated(check)) {
        throw new MaiError(
          ErrorCodes.contextOverflow,
          `${context.backend} truncated the prompt for ${request.model}: it read ${line.prompt_eval_count} tokens of the ~${request.promptTokens ?? '?'} Mai sent ` +
            `(num_ctx ${request.contextSize ?? 'default'}), so the answer ignored the start of the conversation.`,
          { data: { backend: context.backend, model: request.model, promptTokens: request.promptTokens, evaluatedTokens: line.prompt_eval_count, contextSize: request.contextSize } },
        );
      }
      const usage = typeof line.prompt_eval_count === 'number' && typeof line.eval_count === 'number' ? { promptTokens: line.prompt_eval_count, completionTokens: line.eval_count } : undefined;
      yield usage ? { type: 'done', finishReason: finishReasonOf(line), usage } : { type: 'done', finishReason: finishReasonOf(line) };
      return;
    }
  } catch (error) {
    if (error instanceof NdjsonLineError) {
      throw new MaiError(ErrorCodes.serverError, `${context.backend} streamed something that is not Ollama's NDJSON: ${error.line.slice(0, 120)}`, { cause: error, data: { backend: context.backend } });
    }
    throw normalizeError(error, streaming);
  } finally {
    release();
  }
  if (request.signal.aborted) throw new MaiError(ErrorCodes.cancelled, `The request to ${context.backend} was aborted.`, { retryable: false });
  throw new MaiError(ErrorCodes.streamCut, `${context.backend}'s stream for ${request.model} ended without its final (done) line.`, {
    data: { backend: context.backend, model: request.model },
  });
}
