/**
 * LM Studio through its REST API: GET /api/v1/models (loaded instances and their windows,
 * max_context_length, quantization, size_bytes, capabilities), POST /api/v1/models/load and
 * /unload — falling back to GET /api/v0/models (state: loaded | not-loaded) on versions before
 * 0.4. Chat goes through its OpenAI-compatible /v1/chat/completions (the openai backend, by
 * composition); a model that is not loaded is loaded first with the window Mai budgeted, since
 * LM Studio's just-in-time load would use its own default. When the server is down, the config
 * allows it and `lms` is on PATH, `lms server start` starts it (see lms-server-start.ts).
 */
import { lazySchema, z } from '../../core/zod.ts';
import { ErrorCodes, MaiError } from '../../core/errors.ts';
import type { Logger } from '../../core/log.ts';
import { definePlugin } from '../../core/plugin.ts';
import type { Backend, BackendHealth, BackendModel, ChatChunk, ChatRequest, LoadProbeRequest, ServerLoad } from '../../core/types.ts';
import { httpJson, type HttpRequest } from './http.ts';
import { startLmStudioServer } from './lms-server-start.ts';
import { fromV0, fromV1, type LmsLoadResponse, type LmsV0Model, type LmsV1Model } from './lmstudio-models.ts';
import { OpenAIBackend, OpenAIBackendOptions } from './openai.ts';

export const LMStudioBackendOptions = lazySchema(() =>
  z.strictObject({
    baseURL: z.string().url().default('http://127.0.0.1:1234').describe("LM Studio's server address (without /api or /v1)"),
    apiKeyEnv: z.string().min(1).optional().describe('name of the environment variable holding an LM Studio API token, when authentication is on'),
    startServer: z.boolean().default(false).describe('run `lms server start` when LM Studio is down and `lms` is on PATH'),
    startTimeoutMs: z.number().int().positive().default(30_000).describe('how long to wait for a started server to answer'),
    requestTimeoutMs: z.number().int().positive().default(600_000).describe('how long LM Studio may take to start answering (loading included)'),
    maxContextLength: z
      .number()
      .int()
      .positive()
      .default(32_768)
      .describe("the largest window reported for a model that is not loaded, so the largest Mai loads it with (a window costs memory whether used or not); a model's contextLength in the config overrides it"),
  }),
);
export type LMStudioBackendOptions = z.infer<typeof LMStudioBackendOptions>;

/** Listing is metadata only: it never gets the long wait a model load may need. */
const LIST_TIMEOUT_MS = 30_000;
/** After a start attempt, the next one waits at least this long. */
const START_RETRY_MS = 60_000;

/** The promise's value, or 'aborted' as soon as the signal fires (the promise goes on). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | 'aborted'> {
  if (signal.aborted) return Promise.resolve('aborted');
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve('aborted');
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

export class LMStudioBackend implements Backend {
  readonly serves = 'lmstudio';
  private readonly base: string;
  private readonly chatClient: OpenAIBackend;
  private readonly secrets: readonly string[];
  private readonly headers: Readonly<Record<string, string>>;
  /** 'v0' once /api/v1 answered 404 (LM Studio before 0.4). */
  private api: 'v1' | 'v0' = 'v1';
  /** Loaded instance ids per model key, from the last v1 listing and Mai's own loads. */
  private readonly instances = new Map<string, string[]>();
  private starting: Promise<boolean> | null = null;
  private lastStartAt = 0;

  constructor(
    readonly name: string,
    private readonly options: LMStudioBackendOptions,
    apiKey: string | undefined,
    private readonly env: Readonly<Record<string, string | undefined>> = process.env,
    private readonly log?: Logger,
  ) {
    this.base = options.baseURL.replace(/\/+$/, '');
    this.secrets = apiKey ? [apiKey] : [];
    this.headers = apiKey ? { authorization: `Bearer ${apiKey}` } : {};
    const chatOptions = OpenAIBackendOptions.parse({ baseURL: `${this.base}/v1`, requestTimeoutMs: options.requestTimeoutMs, llamaCppExtras: false });
    this.chatClient = new OpenAIBackend(name, chatOptions, apiKey);
  }

  get endpoint(): string {
    return this.base;
  }

  /** LM Studio's loaded instances (it publishes no slot or queue figures). */
  async probeLoad({ signal }: LoadProbeRequest): Promise<ServerLoad> {
    const models = await this.listOnce(signal);
    return {
      slots: null,
      running: null,
      waiting: null,
      kvUsage: null,
      source: `LM Studio loaded instances (/api/${this.api}/models)`,
      loadedModels: models.filter((m) => m.loaded).map((m) => m.id),
      notes: [],
    };
  }

  private request(extra: Partial<HttpRequest> = {}): HttpRequest {
    return { backend: this.name, timeoutMs: this.options.requestTimeoutMs, headers: this.headers, secrets: this.secrets, ...extra };
  }

  private async listOnce(signal?: AbortSignal): Promise<BackendModel[]> {
    const opts = { timeoutMs: Math.min(LIST_TIMEOUT_MS, this.options.requestTimeoutMs), ...(signal ? { signal } : {}) };
    if (this.api === 'v1') {
      try {
        const body = await httpJson<{ models?: LmsV1Model[] }>(`${this.base}/api/v1/models`, this.request(opts));
        const listing = fromV1(body.models ?? [], this.options.maxContextLength);
        this.instances.clear();
        for (const [key, ids] of listing.instances) this.instances.set(key, ids);
        return listing.models;
      } catch (error) {
        // A 404 on /api/v1 is an LM Studio from before 0.4: use its v0 API from now on.
        if (!(error instanceof MaiError) || error.data?.status !== 404) throw error;
        this.log?.info(`${this.name}: no /api/v1 (LM Studio before 0.4); using /api/v0`);
        this.api = 'v0';
      }
    }
    const body = await httpJson<{ data?: LmsV0Model[] }>(`${this.base}/api/v0/models`, this.request(opts));
    return fromV0(body.data ?? [], this.options.maxContextLength);
  }

  async listModels(signal?: AbortSignal): Promise<BackendModel[]> {
    try {
      return await this.listOnce(signal);
    } catch (error) {
      if (!(error instanceof MaiError) || error.code !== ErrorCodes.unreachable || !this.options.startServer) throw error;
      // The start goes on even if the caller stops waiting: a later listing finds the server up.
      const attempt = this.ensureServer();
      const started = await (signal ? untilAborted(attempt, signal) : attempt);
      if (started === 'aborted') {
        throw new MaiError(ErrorCodes.unreachable, `${error.message} Starting it with \`lms server start\`; not answering yet.`, { cause: error, data: error.data ?? {} });
      }
      if (!started.ok) throw new MaiError(ErrorCodes.unreachable, `${error.message} Could not start it: ${started.detail}.`, { cause: error, data: error.data ?? {} });
      return this.listOnce(signal);
    }
  }

  /** Starts the server once (concurrent callers share the attempt; retried after START_RETRY_MS). */
  private async ensureServer(): Promise<{ ok: boolean; detail: string }> {
    if (this.starting) return { ok: await this.starting, detail: 'a start attempt is under way' };
    if (Date.now() - this.lastStartAt < START_RETRY_MS) return { ok: false, detail: `the last attempt failed less than ${START_RETRY_MS / 1000} s ago` };
    this.lastStartAt = Date.now();
    let detail = '';
    this.starting = startLmStudioServer({
      baseURL: this.base,
      env: this.env,
      timeoutMs: this.options.startTimeoutMs,
      ...(this.log ? { log: this.log } : {}),
      probe: async (signal) => {
        try {
          await httpJson(`${this.base}/api/v1/models`, this.request({ signal, timeoutMs: 1_000 }));
          return true;
        } catch (error) {
          // Any HTTP answer (even a 404 from an older version) means the server is up.
          return error instanceof MaiError && typeof error.data?.status === 'number';
        }
      },
    }).then((outcome) => {
      detail = outcome.detail;
      return outcome.started;
    });
    try {
      return { ok: await this.starting, detail };
    } finally {
      this.starting = null;
    }
  }

  async *chat(request: ChatRequest): AsyncIterable<ChatChunk> {
    // Known but not loaded: load it with Mai's window rather than LM Studio's default.
    if (this.api === 'v1' && this.instances.get(request.model)?.length === 0) {
      await this.load(request.model, { signal: request.signal, ...(request.contextSize ? { contextSize: request.contextSize } : {}) });
    }
    yield* this.chatClient.chat(request);
  }

  async load(model: string, options: { contextSize?: number; signal?: AbortSignal } = {}): Promise<void> {
    if (this.api === 'v0') {
      throw new MaiError(ErrorCodes.badRequest, `${this.name} is an LM Studio older than 0.4: it has no load endpoint and loads ${model} when it is first used.`, {
        retryable: false,
        data: { backend: this.name, model },
      });
    }
    const contextLength = options.contextSize;
    const answer = await httpJson<LmsLoadResponse>(
      `${this.base}/api/v1/models/load`,
      this.request({ model, body: { model, ...(contextLength ? { context_length: contextLength } : {}) }, ...(options.signal ? { signal: options.signal } : {}) }),
    );
    const id = answer.instance_id ?? answer.model_instance_id ?? model;
    this.instances.set(model, [...(this.instances.get(model) ?? []), id]);
  }

  /** Unloads every loaded instance of the model (none: nothing to do). */
  async unload(model: string, signal?: AbortSignal): Promise<void> {
    if (this.api === 'v0') {
      throw new MaiError(ErrorCodes.badRequest, `${this.name} is an LM Studio older than 0.4: it has no unload endpoint.`, { retryable: false, data: { backend: this.name, model } });
    }
    if (!this.instances.has(model)) await this.listOnce(signal);
    for (const id of this.instances.get(model) ?? []) {
      await httpJson(`${this.base}/api/v1/models/unload`, this.request({ model, body: { instance_id: id }, ...(signal ? { signal } : {}) }));
    }
    if (this.instances.has(model)) this.instances.set(model, []);
  }

  async health(signal?: AbortSignal): Promise<BackendHealth> {
    try {
      await this.listModels(signal);
      return { reachable: true };
    } catch (error) {
      return { reachable: false, error: MaiError.from(error).message };
    }
  }
}

export default definePlugin({
  kind: 'backend',
  name: 'lmstudio',
  description: "LM Studio's REST API (/api/v1, or /api/v0 before 0.4) with chat through its OpenAI-compatible /v1.",
  options: LMStudioBackendOptions,
  create(options, context) {
    const apiKey = options.apiKeyEnv ? context.env[options.apiKeyEnv] : undefined;
    if (options.apiKeyEnv && !apiKey) context.log.warn(`backend ${context.name}: environment variable ${options.apiKeyEnv} is not set; sending no API token`);
    return new LMStudioBackend(context.name, options, apiKey || undefined, context.env, context.log.child(context.name));
  },
});
