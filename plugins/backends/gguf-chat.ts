/**
 * One streamed answer from a loaded GGUF model through node-llama-cpp's LlamaChat, with the chat
 * template the model file carries. Mai budgets the prompt itself: the prompt is counted with the
 * model's own tokenizer first, a prompt that does not fit the context is a context-overflow error
 * (never node-llama-cpp's silent context shift), and the reply is capped to the room left. The
 * context (KV cache) is sized to what the turn needs within Mai's budget, not to the whole window.
 * Text chunks are yielded as node-llama-cpp produces them; the last chunk is `done` with usage.
 */
import type { ChatHistoryItem, LlamaChat as LlamaChatClass, resolveChatWrapper } from 'node-llama-cpp';
import { ErrorCodes, isMaiError, MaiError } from '../../core/errors.ts';
import type { ChatChunk, ChatMessage, ChatRequest, FinishReason } from '../../core/types.ts';
import type { LoadedGguf } from './gguf-loaded-model.ts';

export interface GenerateOptions {
  LlamaChat: typeof LlamaChatClass;
  resolveChatWrapper: typeof resolveChatWrapper;
  backend: string;
  /** When the request names none. */
  temperature: number;
  seed?: number;
}

export function toChatHistory(messages: readonly ChatMessage[]): ChatHistoryItem[] {
  return messages.map((m): ChatHistoryItem => {
    if (m.role === 'system') return { type: 'system', text: m.content };
    if (m.role === 'user') return { type: 'user', text: m.content };
    return { type: 'model', response: [m.content] };
  });
}

/** Push (node-llama-cpp's callbacks) to pull (an async iterator). */
class TextQueue {
  private items: string[] = [];
  private wake: (() => void) | null = null;
  private finished = false;

  push(text: string): void {
    if (text === '') return;
    this.items.push(text);
    this.wake?.();
  }

  finish(): void {
    this.finished = true;
    this.wake?.();
  }

  async *drain(): AsyncGenerator<string> {
    for (;;) {
      const item = this.items.shift();
      if (item !== undefined) {
        yield item;
        continue;
      }
      if (this.finished) return;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = null;
    }
  }
}

export async function* generate(loaded: LoadedGguf, request: ChatRequest, options: GenerateOptions): AsyncGenerator<ChatChunk> {
  const where = { backend: options.backend, model: loaded.id };
  const release = await loaded.acquire(request.signal);
  let chat: LlamaChatClass | null = null;
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  const signals = [request.signal, loaded.unloading.signal];
  for (const s of signals) s.addEventListener('abort', onAbort, { once: true });
  let generation: Promise<unknown> | null = null;
  try {
    if (request.signal.aborted || loaded.unloading.signal.aborted) stop.abort();
    const contextSize = request.contextSize ?? loaded.model.trainContextSize;
    loaded.chatWrapper ??= options.resolveChatWrapper(loaded.model);
    const history = toChatHistory(request.messages);
    const { contextText } = loaded.chatWrapper.generateContextState({ chatHistory: [...history, { type: 'model', response: [] }] });
    const promptTokens = contextText.tokenize(loaded.model.tokenizer).length;
    // node-llama-cpp needs one free cell after the prompt to start generating.
    const room = contextSize - promptTokens - 1;
    if (room < 1) {
      throw new MaiError(
        ErrorCodes.contextOverflow,
        `The prompt is ${promptTokens} tokens by ${loaded.id}'s tokenizer; it does not fit a ${contextSize}-token context.`,
        { data: { ...where, promptTokens, contextSize } },
      );
    }
    const maxTokens = Math.max(1, Math.min(request.maxTokens ?? room, room));
    // The KV cache holds what this turn needs (prompt + reply), within Mai's budget.
    const sequence = await loaded.sequenceFor(promptTokens + maxTokens + 1, contextSize);
    chat = new options.LlamaChat({ contextSequence: sequence, autoDisposeSequence: false, chatWrapper: loaded.chatWrapper });
    let completionTokens = 0;
    let shifted = false;
    const queue = new TextQueue();
    let failure: unknown = null;
    let stopReason: string | undefined;
    generation = chat
      .generateResponse(history, {
        maxTokens,
        temperature: request.temperature ?? options.temperature,
        ...(options.seed === undefined ? {} : { seed: options.seed }),
        signal: stop.signal,
        stopOnAbortSignal: true,
        onTextChunk: (text) => queue.push(text),
        onToken: (tokens) => {
          completionTokens += tokens.length;
        },
        // Mai budgets the prompt; if node-llama-cpp ever wants to shift the context, stop instead.
        contextShift: {
          strategy: ({ chatHistory }) => {
            shifted = true;
            stop.abort();
            return { chatHistory: [...chatHistory] };
          },
        },
      })
      .then(
        (response) => {
          stopReason = response.metadata.stopReason;
        },
        (error: unknown) => {
          failure = error;
        },
      )
      .finally(() => queue.finish());
    for await (const text of queue.drain()) yield { type: 'delta', text };
    await generation;
    if (shifted) {
      throw new MaiError(ErrorCodes.contextOverflow, `${loaded.id}'s context (${contextSize} tokens) filled up while answering.`, {
        data: { ...where, promptTokens, contextSize },
      });
    }
    const reason: unknown = loaded.unloading.signal.aborted ? loaded.unloading.signal.reason : request.signal.aborted ? request.signal.reason : null;
    if (reason !== null || stopReason === 'abort') {
      if (isMaiError(reason)) throw reason;
      throw new MaiError(ErrorCodes.cancelled, `The answer from ${loaded.id} was cancelled.`, { retryable: false, cause: reason, data: where });
    }
    if (failure) {
      throw new MaiError(ErrorCodes.serverError, `${loaded.id} failed while answering: ${(failure as Error).message}`, { cause: failure, data: where });
    }
    const finishReason: FinishReason = stopReason === 'maxTokens' ? 'length' : 'stop';
    yield { type: 'done', finishReason, usage: { promptTokens, completionTokens } };
  } finally {
    for (const s of signals) s.removeEventListener('abort', onAbort);
    if (generation) {
      // The consumer stopped early (or something threw): stop generating before freeing the model.
      stop.abort();
      await generation.catch(() => {});
    }
    chat?.dispose({ disposeSequence: false });
    release();
  }
}
