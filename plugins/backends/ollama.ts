/**
 * Ollama through its native API: /api/tags (on disk), /api/ps (loaded, memory, VRAM, expiry),
 * /api/show (window, capabilities, architecture — asked once per model digest), streamed
 * /api/chat (NDJSON) with options.num_ctx set to the window Mai budgeted, load with an empty
 * chat, unload with keep_alive: 0. Ollama truncates an overflowing prompt silently; the chat
 * stream detects it and reports a context overflow (see ollama-chat.ts).
 */
import { lazySchema, z } from '../../core/zod.ts';
import { MaiError } from '../../core/errors.ts';
import type { Logger } from '../../core/log.ts';
import { definePlugin } from '../../core/plugin.ts';
import type { Backend, BackendHealth, BackendModel, ChatChunk, ChatRequest, LoadProbeRequest, ServerLoad } from '../../core/types.ts';
import { ollamaProbe } from './load-probes/ollama.ts';
import { httpJson, type HttpRequest } from './http.ts';
import type { OllamaChatLine, OllamaRunning, OllamaShow, OllamaTag } from './ollama-api.ts';
import { streamOllamaChat } from './ollama-chat.ts';
import { mergeOllamaModels } from './ollama-models.ts';

export const OllamaBackendOptions = lazySchema(() =>
  z.strictObject({
    baseURL: z.string().url().default('http://127.0.0.1:11434').describe("Ollama's address (without /api or /v1)"),
    requestTimeoutMs: z.number().int().positive().default(600_000).describe('how long Ollama may take to start answering (it loads the model first)'),
    keepAlive: z.union([z.string().min(1), z.number()]).optional().describe("how long Ollama keeps a model loaded after a turn (its keep_alive: '5m', 3600, -1)"),
    maxContextLength: z
      .number()
      .int()
      .positive()
      .default(32_768)
      .describe("the largest window reported for a model, so the largest num_ctx Mai budgets for (a window costs memory whether used or not); a model's contextLength in the config overrides it"),
    truncationTolerance: z
      .number()
      .gt(0)
      .max(1)
      .default(0.6)
      .describe("below this share of Mai's prompt estimate, Ollama's prompt_eval_count means it dropped part of the prompt"),
    showConcurrency: z.number().int().positive().max(16).default(4).describe('how many /api/show requests run at once while listing'),
  }),
);
export type OllamaBackendOptions = z.infer<typeof OllamaBackendOptions>;

/** Listing is metadata only: it never gets the long wait a model load may need. */
const LIST_TIMEOUT_MS = 30_000;

/** Runs `task` over `items`, at most `limit` at once. */
async function eachLimited<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await task(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export class OllamaBackend implements Backend {
  readonly serves = 'ollama';
  private readonly base: string;
  /** /api/show answers by `name@digest`: a model's details change only with its digest. */
  private readonly shows = new Map<string, OllamaShow>();

  constructor(
    readonly name: string,
    private readonly options: OllamaBackendOptions,
    private readonly log?: Logger,
  ) {
    this.base = options.baseURL.replace(/\/+$/, '');
    this.endpoint = this.base;
    this.probeLoad = ollamaProbe({ base: this.base });
  }

  readonly endpoint: string;
  /** What Ollama holds in memory (/api/ps); it publishes no slot or queue figures. */
  readonly probeLoad: (request: LoadProbeRequest) => Promise<ServerLoad>;

  private request(extra: Partial<HttpRequest> & { timeoutMs?: number } = {}): HttpRequest {
    return { backend: this.name, timeoutMs: this.options.requestTimeoutMs, ...extra };
  }

  private async show(tag: OllamaTag, signal?: AbortSignal): Promise<void> {
    const key = `${tag.name}@${tag.digest ?? ''}`;
    if (this.shows.has(key)) return;
    try {
      const show = await httpJson<OllamaShow>(`${this.base}/api/show`, this.request({ model: tag.name, body: { model: tag.name }, timeoutMs: Math.min(LIST_TIMEOUT_MS, this.options.requestTimeoutMs), ...(signal ? { signal } : {}) }));
      this.shows.set(key, show);
    } catch (error) {
      // Listing still works without the details; the next listing asks again.
      this.log?.debug(`${this.name}: /api/show ${tag.name} failed: ${MaiError.from(error).message}`);
    }
  }

  async listModels(signal?: AbortSignal): Promise<BackendModel[]> {
    const opts = { timeoutMs: Math.min(LIST_TIMEOUT_MS, this.options.requestTimeoutMs), ...(signal ? { signal } : {}) };
    const [tags, ps] = await Promise.all([
      httpJson<{ models?: OllamaTag[] }>(`${this.base}/api/tags`, this.request(opts)),
      // Versions before /api/ps existed: nothing is known to be loaded.
      httpJson<{ models?: OllamaRunning[] }>(`${this.base}/api/ps`, this.request(opts)).catch(() => ({ models: [] as OllamaRunning[] })),
    ]);
    const onDisk = (tags.models ?? []).filter((t) => typeof t?.name === 'string');
    await eachLimited(onDisk, this.options.showConcurrency, (tag) => this.show(tag, signal));
    const shows = new Map<string, OllamaShow>();
    for (const tag of onDisk) {
      const show = this.shows.get(`${tag.name}@${tag.digest ?? ''}`);
      if (show) shows.set(tag.name, show);
    }
    return mergeOllamaModels({ tags: onDisk, running: ps.models ?? [], shows, maxContextLength: this.options.maxContextLength });
  }

  chat(request: ChatRequest): AsyncIterable<ChatChunk> {
    return streamOllamaChat(request, {
      url: `${this.base}/api/chat`,
      context: { backend: this.name, model: request.model },
      timeoutMs: this.options.requestTimeoutMs,
      keepAlive: this.options.keepAlive,
      tolerance: this.options.truncationTolerance,
    });
  }

  /** An empty chat loads the model (with the window Mai wants, when it says). */
  async load(model: string, options: { contextSize?: number; signal?: AbortSignal } = {}): Promise<void> {
    const numCtx = options.contextSize;
    await httpJson<OllamaChatLine>(
      `${this.base}/api/chat`,
      this.request({
        model,
        body: {
          model,
          messages: [],
          stream: false,
          ...(numCtx === undefined ? {} : { options: { num_ctx: numCtx } }),
          ...(this.options.keepAlive === undefined ? {} : { keep_alive: this.options.keepAlive }),
        },
        ...(options.signal ? { signal: options.signal } : {}),
      }),
    );
  }

  /** An empty chat with keep_alive: 0 unloads the model at once. */
  async unload(model: string, signal?: AbortSignal): Promise<void> {
    await httpJson<OllamaChatLine>(
      `${this.base}/api/chat`,
      this.request({ model, body: { model, messages: [], stream: false, keep_alive: 0 }, ...(signal ? { signal } : {}) }),
    );
  }

  async health(signal?: AbortSignal): Promise<BackendHealth> {
    try {
      await httpJson<{ version?: string }>(`${this.base}/api/version`, this.request({ timeoutMs: 10_000, ...(signal ? { signal } : {}) }));
      return { reachable: true };
    } catch (error) {
      return { reachable: false, error: MaiError.from(error).message };
    }
  }
}

export default definePlugin({
  kind: 'backend',
  name: 'ollama',
  description: "Ollama's native API (/api/tags, /api/ps, /api/show, streamed /api/chat).",
  options: OllamaBackendOptions,
  create(options, context) {
    return new OllamaBackend(context.name, options, context.log.child(context.name));
  },
});
