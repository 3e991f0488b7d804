/**
 * Any OpenAI-compatible server (llama.cpp's llama-server, vLLM, LM Studio's and Ollama's /v1):
 * /v1/models and streamed /v1/chat/completions over node:http (node-http.ts, sse-post.ts), the
 * chat's events decoded by eventsource-parser. Not through the `openai` package: its request
 * plumbing costs per streamed turn (sse-post.ts), and loading it and undici's fetch for one
 * listing cost every `mai` process ~50 ms of CPU at start; /v1/models is one GET whose `data`
 * array is all the package's page gave Mai (it is not paginated). Uses llama.cpp's
 * /props (context size, vision) and /tokenize when the server has them. The API key comes from
 * the environment variable the config names; it is sent as a Bearer token and nowhere else, and
 * scrubbed from every error message.
 */
import type OpenAI from 'openai';
import { lazySchema, z } from '../../core/zod.ts';
import { ErrorCodes, MaiError } from '../../core/errors.ts';
import { definePlugin } from '../../core/plugin.ts';
import type { Backend, BackendHealth, BackendModel, Capability, ChatChunk, ChatRequest, FinishReason, LoadProbeRequest, ServerLoad, Usage } from '../../core/types.ts';
import { httpJson } from './http.ts';
import { openAICompatibleProbe } from './load-probes/openai-compatible.ts';
import { cancelled, postForEvents } from './sse-post.ts';
import { normalizeError, type ErrorContext } from './normalize-error.ts';
import { extend } from '../../core/extend.ts';

export const OpenAIBackendOptions = lazySchema(() =>
  z.strictObject({
    baseURL: z.string().url().default('http://127.0.0.1:8080/v1').describe('the server address, ending in /v1'),
    apiKeyEnv: z.string().min(1).optional().describe('name of the environment variable holding the API key'),
    requestTimeoutMs: z.number().int().positive().default(600_000).describe('how long the server may take to start answering'),
    /** Ask llama.cpp's /props and /tokenize (skipped after the server says it has none). */
    llamaCppExtras: z.boolean().default(true),
    batchSlots: z
      .number()
      .int()
      .positive()
      .default(16)
      .describe('turns sent at once to a server that batches continuously and publishes no slot count (vLLM, SGLang, a gateway)'),
  }),
);
export type OpenAIBackendOptions = z.infer<typeof OpenAIBackendOptions>;

/** What llama.cpp's GET /props says that Mai uses. */
interface LlamaCppProps {
  contextLength?: number;
  vision?: boolean;
  /** The GGUF file's name (from model_path): the same file on two servers makes them replicas. */
  artifact?: string;
}

/** Extra fields some servers add to /v1/models entries (llama.cpp's `meta`, LM Studio's, vLLM's). */
interface ModelExtras {
  context_length?: unknown;
  max_context_length?: unknown;
  max_model_len?: unknown;
  meta?: { n_ctx_train?: unknown; size?: unknown };
}

const numberOf = (...values: unknown[]): number | undefined => values.find((v): v is number => typeof v === 'number' && v > 0);

/** A GGUF file's name from a path or id ending in .gguf; undefined otherwise. */
function ggufName(path: string): string | undefined {
  const name = path.split(/[\\/]/).pop() ?? '';
  return /\.gguf$/i.test(name) ? name : undefined;
}

function finishReasonOf(value: string | null | undefined): FinishReason {
  return value === 'length' ? 'length' : 'stop';
}

/** A /v1/models entry: the id, and what some servers add (llama.cpp's `meta`, LM Studio's, vLLM's). */
interface ListedModel extends ModelExtras {
  id: string;
}

export class OpenAIBackend implements Backend {
  private readonly origin: string;
  private readonly secrets: readonly string[];
  private readonly authHeaders: Readonly<Record<string, string>>;
  private extras: boolean;
  private tokenizeMissing = false;
  private props: LlamaCppProps | null = null;
  readonly endpoint: string;
  /** POST here for a streamed chat turn, GET for the listing (what the package built from baseURL). */
  private readonly chatURL: string;
  private readonly modelsURL: string;
  /** The server's own load (llama.cpp /props, /slots, /metrics; vLLM and SGLang /metrics). */
  readonly probeLoad: (request: LoadProbeRequest) => Promise<ServerLoad>;

  constructor(
    readonly name: string,
    private readonly options: OpenAIBackendOptions,
    apiKey: string | undefined,
  ) {
    this.origin = new URL(options.baseURL).origin;
    this.extras = options.llamaCppExtras;
    this.secrets = apiKey ? [apiKey] : [];
    this.authHeaders = apiKey ? { authorization: `Bearer ${apiKey}` } : {};
    this.endpoint = options.baseURL;
    this.chatURL = `${options.baseURL.replace(/\/+$/, '')}/chat/completions`;
    this.modelsURL = `${options.baseURL.replace(/\/+$/, '')}/models`;
    this.probeLoad = openAICompatibleProbe({ origin: this.origin, headers: this.authHeaders, llamaCpp: options.llamaCppExtras, batchSlots: options.batchSlots });
  }

  private context(model?: string, streaming?: boolean): ErrorContext {
    return { backend: this.name, ...(model ? { model } : {}), ...(streaming ? { streaming } : {}), secrets: this.secrets };
  }

  /** llama.cpp's /props, once; null after the server showed it has none. */
  private async llamaCppProps(signal?: AbortSignal): Promise<LlamaCppProps | null> {
    if (!this.extras) return null;
    if (this.props) return this.props;
    try {
      const props = await httpJson<{ default_generation_settings?: { n_ctx?: unknown }; n_ctx?: unknown; modalities?: { vision?: unknown }; model_path?: unknown }>(
        `${this.origin}/props`,
        { ...this.context(), headers: this.authHeaders, timeoutMs: Math.min(this.options.requestTimeoutMs, 10_000), ...(signal ? { signal } : {}) },
      );
      const contextLength = numberOf(props.default_generation_settings?.n_ctx, props.n_ctx);
      const artifact = typeof props.model_path === 'string' ? ggufName(props.model_path) : undefined;
      this.props = { ...(contextLength ? { contextLength } : {}), ...(props.modalities?.vision === true ? { vision: true } : {}), ...(artifact ? { artifact } : {}) };
      return this.props;
    } catch (error) {
      // No /props (vLLM, LM Studio, …): stop asking. A transient failure: ask again next time.
      if (error instanceof MaiError && (error.code === ErrorCodes.modelNotFound || error.code === ErrorCodes.badRequest)) this.extras = false;
      return null;
    }
  }

  /** GET /v1/models: its `data` array (an answer without one lists nothing, as the package's page did). */
  private async models(signal?: AbortSignal): Promise<ListedModel[]> {
    const body = await httpJson<{ data?: unknown }>(this.modelsURL, { ...this.context(), headers: this.authHeaders, timeoutMs: this.options.requestTimeoutMs, ...(signal ? { signal } : {}) });
    return Array.isArray(body.data) ? (body.data as unknown[]).filter((m): m is ListedModel => typeof (m as ListedModel | null)?.id === 'string') : [];
  }

  async listModels(signal?: AbortSignal): Promise<BackendModel[]> {
    const data = await this.models(signal);
    const props = await this.llamaCppProps(signal);
    return data.map((m) => {
      const contextLength = props?.contextLength ?? numberOf(m.context_length, m.max_context_length, m.max_model_len, m.meta?.n_ctx_train);
      const sizeBytes = numberOf(m.meta?.size);
      const capabilities: Capability[] | undefined = props?.vision ? ['chat', 'vision'] : undefined;
      const artifact = ggufName(m.id) ?? (data.length === 1 ? props?.artifact : undefined);
      return {
        id: m.id,
        loaded: true,
        ...(artifact ? { artifact } : {}),
        ...(contextLength ? { contextLength } : {}),
        ...(sizeBytes ? { sizeBytes } : {}),
        ...(capabilities ? { capabilities } : {}),
      };
    });
  }

  async *chat(request: ChatRequest): AsyncIterable<ChatChunk> {
    // Over node:http, not the package: see sse-post.ts (the package's per-request CPU bound `mai batch`).
    const body = JSON.stringify({
      model: request.model,
      messages: request.messages,
      stream: true,
      stream_options: { include_usage: true },
      ...(request.maxTokens === undefined ? {} : { max_tokens: request.maxTokens }),
      ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
    });
    const post = { url: this.chatURL, body, headers: this.authHeaders, signal: request.signal, timeoutMs: this.options.requestTimeoutMs };
    const events = postForEvents(extend(this.context(request.model), post));
    let finish: FinishReason | null = null;
    let usage: Usage | undefined;
    for await (const event of events) {
      const chunk = event as OpenAI.ChatCompletionChunk;
      const choice = chunk.choices?.[0];
      const text = choice?.delta?.content;
      if (text) yield { type: 'delta', text };
      if (choice?.finish_reason) finish = finishReasonOf(choice.finish_reason);
      if (chunk.usage) usage = { promptTokens: chunk.usage.prompt_tokens, completionTokens: chunk.usage.completion_tokens };
    }
    // A stream that ended as the signal aborted: the caller must still learn it was cancelled.
    if (request.signal.aborted) throw cancelled({ backend: this.name, model: request.model, signal: request.signal });
    if (finish === null) {
      throw new MaiError(ErrorCodes.streamCut, `${this.name}'s stream for ${request.model} ended without a finish_reason.`, {
        data: { backend: this.name, model: request.model },
      });
    }
    yield usage ? { type: 'done', finishReason: finish, usage } : { type: 'done', finishReason: finish };
  }

  /** llama.cpp's POST /tokenize; a clear non-retryable error where the server has none. */
  async countTokens(model: string, text: string, signal?: AbortSignal): Promise<number> {
    if (!this.options.llamaCppExtras || this.tokenizeMissing) {
      throw new MaiError(ErrorCodes.badRequest, `${this.name} cannot count tokens (no llama.cpp /tokenize); Mai estimates instead.`, { retryable: false });
    }
    let body: { tokens?: unknown };
    try {
      body = await httpJson<{ tokens?: unknown }>(`${this.origin}/tokenize`, {
        ...this.context(model),
        body: { content: text },
        headers: this.authHeaders,
        timeoutMs: Math.min(this.options.requestTimeoutMs, 30_000),
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      if (error instanceof MaiError && (error.code === ErrorCodes.modelNotFound || error.code === ErrorCodes.badRequest)) {
        this.tokenizeMissing = true;
        throw new MaiError(ErrorCodes.badRequest, `${this.name} has no /tokenize (${error.message}); Mai estimates instead.`, { retryable: false, cause: error });
      }
      throw error;
    }
    if (!Array.isArray(body.tokens)) throw new MaiError(ErrorCodes.serverError, `${this.name}'s /tokenize answered without tokens.`);
    return body.tokens.length;
  }

  async health(signal?: AbortSignal): Promise<BackendHealth> {
    try {
      await this.models(signal);
      return { reachable: true };
    } catch (error) {
      return { reachable: false, error: normalizeError(error, this.context()).message };
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
    return new OpenAIBackend(context.name, options, apiKey || undefined);
  },
});
