/**
 * Any OpenAI-compatible server (llama.cpp's llama-server, vLLM, LM Studio's and Ollama's /v1)
 * through the `openai` package: /v1/models and streamed /v1/chat/completions. Uses llama.cpp's
 * /props (context size) and /tokenize when the server has them. The API key comes from the
 * environment variable the config names and is never logged.
 */
import OpenAI from 'openai';
import { z } from 'zod';
import { ErrorCodes, MaiError } from '../../core/errors.ts';
import { definePlugin } from '../../core/plugin.ts';
import type { Backend, BackendModel, ChatChunk, ChatRequest, FinishReason } from '../../core/types.ts';
import { normalizeError } from './normalize-error.ts';

export const OpenAIBackendOptions = z
  .object({
    baseURL: z.string().url().default('http://127.0.0.1:8080/v1'),
    apiKeyEnv: z.string().min(1).optional().describe('name of the environment variable holding the API key'),
    requestTimeoutMs: z.number().int().positive().default(600_000),
    /** Ask llama.cpp's /props and /tokenize (skipped after the server says it has none). */
    llamaCppExtras: z.boolean().default(true),
  })
  .strict();
export type OpenAIBackendOptions = z.infer<typeof OpenAIBackendOptions>;

function finishReasonOf(value: string | null | undefined): FinishReason {
  return value === 'length' ? 'length' : 'stop';
}

export class OpenAIBackend implements Backend {
  private readonly client: OpenAI;
  private readonly origin: string;
  private extras: boolean;
  private propsContext: number | undefined | null = null;

  constructor(
    readonly name: string,
    private readonly options: OpenAIBackendOptions,
    apiKey: string | undefined,
  ) {
    this.client = new OpenAI({
      baseURL: options.baseURL,
      apiKey: apiKey ?? 'not-needed',
      maxRetries: 0,
      timeout: options.requestTimeoutMs,
    });
    this.origin = new URL(options.baseURL).origin;
    this.extras = options.llamaCppExtras;
  }

  /** llama.cpp's /props: the server's context size, or undefined when the server has no /props. */
  private async serverContext(signal?: AbortSignal): Promise<number | undefined> {
    if (!this.extras) return undefined;
    if (this.propsContext !== null) return this.propsContext;
    try {
      const response = await fetch(`${this.origin}/props`, signal ? { signal } : {});
      if (!response.ok) {
        this.propsContext = undefined;
        return undefined;
      }
      const props = (await response.json()) as { default_generation_settings?: { n_ctx?: unknown }; n_ctx?: unknown };
      const nCtx = props.default_generation_settings?.n_ctx ?? props.n_ctx;
      this.propsContext = typeof nCtx === 'number' ? nCtx : undefined;
      return this.propsContext;
    } catch {
      return undefined;
    }
  }

  async listModels(signal?: AbortSignal): Promise<BackendModel[]> {
    try {
      const page = await this.client.models.list(signal ? { signal } : {});
      const contextLength = await this.serverContext(signal);
      return page.data.map((m) => {
        const extra = m as unknown as { context_length?: unknown; max_context_length?: unknown; meta?: { n_ctx_train?: unknown } };
        const declared = [extra.context_length, extra.max_context_length, extra.meta?.n_ctx_train].find((v) => typeof v === 'number') as
          | number
          | undefined;
        const ctx = contextLength ?? declared;
        return { id: m.id, loaded: true, ...(ctx ? { contextLength: ctx } : {}) };
      });
    } catch (error) {
      throw normalizeError(error, { backend: this.name });
    }
  }

  async *chat(request: ChatRequest): AsyncIterable<ChatChunk> {
    let stream;
    try {
      stream = await this.client.chat.completions.create(
        {
          model: request.model,
          messages: request.messages,
          stream: true,
          stream_options: { include_usage: true },
          ...(request.maxTokens === undefined ? {} : { max_tokens: request.maxTokens }),
          ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
        },
        { signal: request.signal },
      );
    } catch (error) {
      throw normalizeError(error, { backend: this.name, model: request.model });
    }
    let finish: FinishReason | null = null;
    let usage: { promptTokens: number; completionTokens: number } | undefined;
    try {
      for await (const chunk of stream) {
        const choice = chunk.choices[0];
        const text = choice?.delta?.content;
        if (text) yield { type: 'delta', text };
        if (choice?.finish_reason) finish = finishReasonOf(choice.finish_reason);
        if (chunk.usage) usage = { promptTokens: chunk.usage.prompt_tokens, completionTokens: chunk.usage.completion_tokens };
      }
    } catch (error) {
      throw normalizeError(error, { backend: this.name, model: request.model, streaming: true });
    }
    if (finish === null) {
      throw new MaiError(ErrorCodes.streamCut, `${this.name}'s stream for ${request.model} ended without a finish_reason.`, {
        data: { backend: this.name, model: request.model },
      });
    }
    yield usage ? { type: 'done', finishReason: finish, usage } : { type: 'done', finishReason: finish };
  }

  async countTokens(_model: string, text: string, signal?: AbortSignal): Promise<number> {
    if (!this.extras) throw new MaiError(ErrorCodes.badRequest, `${this.name} cannot count tokens.`, { retryable: false });
    const response = await fetch(`${this.origin}/tokenize`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ content: text }),
      ...(signal ? { signal } : {}),
    }).catch((error: unknown) => {
      throw normalizeError(error, { backend: this.name });
    });
    if (!response.ok) {
      throw new MaiError(ErrorCodes.badRequest, `${this.name} has no /tokenize (HTTP ${response.status}).`, { retryable: false });
    }
    const body = (await response.json()) as { tokens?: unknown[] };
    if (!Array.isArray(body.tokens)) throw new MaiError(ErrorCodes.serverError, `${this.name}'s /tokenize answered without tokens.`);
    return body.tokens.length;
  }

  async health(signal?: AbortSignal): Promise<{ reachable: boolean; error?: string }> {
    try {
      await this.client.models.list(signal ? { signal } : {});
      return { reachable: true };
    } catch (error) {
      return { reachable: false, error: normalizeError(error, { backend: this.name }).message };
    }
  }
}

export default definePlugin({
  kind: 'backend',
  name: 'openai',
  description: 'Any OpenAI-compatible server (llama.cpp, vLLM, LM Studio /v1, Ollama /v1).',
  options: OpenAIBackendOptions,
  create(options, context) {
    const apiKey = options.apiKeyEnv ? context.env[options.apiKeyEnv] : undefined;
    if (options.apiKeyEnv && !apiKey) context.log.warn(`backend ${context.name}: environment variable ${options.apiKeyEnv} is not set; sending no API key`);
    return new OpenAIBackend(context.name, options, apiKey);
  },
});
