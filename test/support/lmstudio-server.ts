/**
 * A real HTTP server on 127.0.0.1 speaking LM Studio's APIs as its docs give them
 * (lmstudio.ai/docs/developer): the v1 REST API (GET /api/v1/models, POST /api/v1/models/load
 * and /unload, errors as `{error: {type, message, code?, param?}}`), or — as LM Studio before 0.4
 * — only GET /api/v0/models (state: loaded | not-loaded) with /api/v1 answering 404; and the
 * OpenAI-compatible GET /v1/models and streamed POST /v1/chat/completions, which loads a model
 * just in time with LM Studio's default window (4096) and refuses a prompt longer than the
 * loaded window with LM Studio's "Trying to keep the first N tokens…" 400. Tokens are counted
 * with a real BPE tokenizer (gpt-tokenizer's cl100k, close to the Llama 3 and Qwen ones) plus 4 a message.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { countTokens } from 'gpt-tokenizer/encoding/cl100k_base';
import { listenOnLoopback } from './loopback.ts';

export type LmsBehaviour =
  | { kind: 'ok' }
  | { kind: 'status'; status: number; body?: unknown; retryAfter?: string }
  | { kind: 'hang' }
  | { kind: 'cut'; afterChunks: number };

export interface FakeLmsModel {
  key: string;
  type?: 'llm' | 'embedding';
  quantization?: string;
  bitsPerWeight?: number;
  sizeBytes?: number;
  maxContextLength?: number;
  vision?: boolean;
  tools?: boolean;
  /** Loaded instances and their windows (empty or absent: not loaded). */
  instances?: Array<{ id: string; contextLength: number }>;
  reply?: string | ((messages: Array<{ role: string; content: string }>) => string);
  chunks?: number;
  chunkDelayMs?: number;
  loadDelayMs?: number;
  behaviour?: LmsBehaviour;
  queue?: LmsBehaviour[];
}

export interface LmsServerOptions {
  /** 'v0': an LM Studio before 0.4 (no /api/v1). */
  api?: 'v1' | 'v0';
  /** Answer nothing until this long after start. */
  startDelayMs?: number;
  port?: number;
}

export interface FakeLmStudioServer {
  url: string;
  models: Map<string, FakeLmsModel>;
  seen: string[];
  loads: Array<Record<string, unknown>>;
  unloads: Array<Record<string, unknown>>;
  chats: Array<{ model: string; messages: Array<{ role: string; content: string }>; maxTokens?: number; clientClosed?: boolean }>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const DEFAULT_CONTEXT = 4096;
export const lmsTokens = (messages: Array<{ content: string }>) => messages.reduce((n, m) => n + countTokens(m.content) + 4, 0);
const restError = (type: string, message: string, extra: Record<string, string> = {}) => ({ error: { type, message, ...extra } });

async function readJson(req: IncomingMessage): Promise<Record<string, unknown> | null> {
  let body = '';
  for await (const chunk of req) body += chunk;
  try {
    return JSON.parse(body) as Record<string, unknown>;
  } catch {
    return null;
  }
}

export async function startLmStudioServer(models: FakeLmsModel[], options: LmsServerOptions = {}): Promise<FakeLmStudioServer> {
  const registry = new Map(models.map((m) => [m.key, m]));
  const state: Omit<FakeLmStudioServer, 'url' | 'close'> = { models: registry, seen: [], loads: [], unloads: [], chats: [] };
  const startedAt = Date.now();
  const v1 = (options.api ?? 'v1') === 'v1';
  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify(body));
  };
  const load = async (m: FakeLmsModel, contextLength: number) => {
    if (m.loadDelayMs) await sleep(m.loadDelayMs);
    const taken = new Set((m.instances ?? []).map((i) => i.id));
    let id = m.key;
    for (let n = 2; taken.has(id); n++) id = `${m.key}:${n}`;
    m.instances = [...(m.instances ?? []), { id, contextLength }];
    return id;
  };

  const server = createServer(async (req, res) => {
    const route = `${req.method} ${req.url}`;
    state.seen.push(route);
    if (options.startDelayMs) await sleep(Math.max(0, startedAt + options.startDelayMs - Date.now()));
    if (route === 'GET /api/v1/models' && v1) {
      return json(res, 200, {
        models: [...registry.values()].map((m) => ({
          type: m.type ?? 'llm',
          publisher: 'lmstudio-community',
          key: m.key,
          display_name: m.key,
          ...(m.type === 'embedding' ? {} : { architecture: 'llama' }),
          quantization: { name: m.quantization ?? 'Q4_K_M', bits_per_weight: m.bitsPerWeight ?? 4 },
          size_bytes: m.sizeBytes ?? 1_000_000,
          params_string: '1B',
          loaded_instances: (m.instances ?? []).map((i) => ({ id: i.id, config: { context_length: i.contextLength } })),
          max_context_length: m.maxContextLength ?? 32_768,
          format: 'gguf',
          ...(m.type === 'embedding' ? {} : { capabilities: { vision: m.vision ?? false, trained_for_tool_use: m.tools ?? false }, description: null }),
        })),
      });
    }
    if (route === 'GET /api/v0/models') {
      return json(res, 200, {
        object: 'list',
        data: [...registry.values()].map((m) => ({
          id: m.key,
          object: 'model',
          type: m.type === 'embedding' ? 'embeddings' : m.vision ? 'vlm' : 'llm',
          publisher: 'lmstudio-community',
          arch: 'llama',
          compatibility_type: 'gguf',
          quantization: m.quantization ?? 'Q4_K_M',
          state: (m.instances ?? []).length > 0 ? 'loaded' : 'not-loaded',
          max_context_length: m.maxContextLength ?? 32_768,
          ...(m.tools ? { capabilities: ['tool_use'] } : {}),
        })),
      });
    }
    if (route === 'POST /api/v1/models/load' && v1) {
      const body = await readJson(req);
      state.loads.push(body ?? {});
      if (!body || typeof body.model !== 'string' || body.model === '') {
        return json(res, 400, restError('invalid_request', '"model" is required', { code: 'missing_required_parameter', param: 'model' }));
      }
      const model = registry.get(body.model);
      if (!model) return json(res, 404, restError('model_not_found', `Model "${body.model}" not found.`, { param: 'model' }));
      const contextLength = typeof body.context_length === 'number' ? body.context_length : DEFAULT_CONTEXT;
      const started = Date.now();
      const id = await load(model, contextLength);
      return json(res, 200, { type: 'llm', instance_id: id, load_time_seconds: (Date.now() - started) / 1000, status: 'loaded' });
    }
    if (route === 'POST /api/v1/models/unload' && v1) {
      const body = await readJson(req);
      state.unloads.push(body ?? {});
      const id = body?.instance_id;
      const owner = [...registry.values()].find((m) => (m.instances ?? []).some((i) => i.id === id));
      if (typeof id !== 'string' || !owner) return json(res, 404, restError('model_not_found', `No loaded model instance with id "${String(id)}".`, { param: 'instance_id' }));
      owner.instances = (owner.instances ?? []).filter((i) => i.id !== id);
      return json(res, 200, { instance_id: id });
    }
    if (route === 'GET /v1/models') {
      return json(res, 200, { object: 'list', data: [...registry.values()].map((m) => ({ id: m.key, object: 'model', owned_by: 'organization_owner' })) });
    }
    if (route !== 'POST /v1/chat/completions') return json(res, 404, { error: `Unexpected endpoint or method. (${req.method} ${req.url})` });

    const body = await readJson(req);
    if (!body || !Array.isArray(body.messages)) return json(res, 400, { error: { message: "'messages' field is required", type: 'invalid_request_error', param: 'messages', code: null } });
    const messages = body.messages as Array<{ role: string; content: string }>;
    const entry: FakeLmStudioServer['chats'][number] = { model: String(body.model), messages, ...(typeof body.max_tokens === 'number' ? { maxTokens: body.max_tokens } : {}) };
    state.chats.push(entry);
    res.on('close', () => {
      if (!res.writableFinished) entry.clientClosed = true;
    });
    const model = registry.get(entry.model);
    if (!model || model.type === 'embedding') {
      return json(res, 404, { error: { message: `Model "${entry.model}" not found. Please specify a valid model.`, type: 'invalid_request_error', param: 'model', code: 'model_not_found' } });
    }
    const behaviour = model.queue?.shift() ?? model.behaviour ?? { kind: 'ok' };
    if (behaviour.kind === 'status') {
      return json(res, behaviour.status, behaviour.body ?? { error: { message: `status ${behaviour.status}`, type: 'server_error' } }, behaviour.retryAfter ? { 'retry-after': behaviour.retryAfter } : {});
    }
    if (behaviour.kind === 'hang') return;
    if ((model.instances ?? []).length === 0) await load(model, DEFAULT_CONTEXT); // just-in-time load, LM Studio's default window
    const window = model.instances![0]!.contextLength;
    const prompt = lmsTokens(messages);
    if (prompt > window) {
      return json(res, 400, {
        error: `Trying to keep the first ${prompt} tokens when context the overflows. However, the model is loaded with context length of only ${window} tokens, which is not enough. Try to load the model with a larger context length, or provide a shorter input`,
      });
    }
    const text = typeof model.reply === 'function' ? model.reply(messages) : (model.reply ?? `Answer from ${model.key}.`);
    const parts: string[] = [];
    const size = Math.max(1, Math.ceil(text.length / (model.chunks ?? 4)));
    for (let i = 0; i < text.length; i += size) parts.push(text.slice(i, i + size));
    const id = `chatcmpl-${state.chats.length}`;
    const chunk = (delta: Record<string, unknown>, finish: string | null) => ({ id, object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model: model.key, system_fingerprint: model.key, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    for (const [i, part] of parts.entries()) {
      if (behaviour.kind === 'cut' && i >= behaviour.afterChunks) {
        await new Promise<void>((resolve) => res.write('', () => resolve()));
        res.socket?.destroy();
        return;
      }
      if (model.chunkDelayMs) await sleep(model.chunkDelayMs);
      if (res.destroyed) return;
      res.write(`data: ${JSON.stringify(chunk({ role: 'assistant', content: part }, null))}\n\n`);
    }
    res.write(`data: ${JSON.stringify(chunk({}, 'stop'))}\n\n`);
    res.write(`data: ${JSON.stringify({ ...chunk({}, null), choices: [], usage: { prompt_tokens: prompt, completion_tokens: parts.length, total_tokens: prompt + parts.length } })}\n\n`);
    res.end('data: [DONE]\n\n');
  });
  const listening = await listenOnLoopback(server, options.port);
  return {
    url: listening.url,
    ...state,
    close: listening.close,
  };
}
