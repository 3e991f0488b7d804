/**
 * A real HTTP server on 127.0.0.1 that speaks the OpenAI API shapes Mai uses: GET /v1/models and
 * POST /v1/chat/completions, streamed as server-sent events (`data: {chunk}` … `data: [DONE]`).
 * Each model can be told to misbehave the ways real servers do: 500, 429 + Retry-After, hang,
 * cut the stream mid-way, send an error event mid-stream, or reject a prompt longer than its
 * window with llama.cpp's error body. Optionally it is a llama.cpp `llama-server` (GET /props,
 * POST /tokenize, `meta` on /v1/models), requires an API key, or starts slowly.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { listenOnLoopback } from './loopback.ts';

export type Behaviour =
  | { kind: 'ok' }
  | { kind: 'status'; status: number; body?: unknown; retryAfter?: string }
  | { kind: 'hang' }
  | { kind: 'cut'; afterChunks: number }
  /** Sends `afterChunks` pieces, then nothing more while keeping the connection open (a stalled server). */
  | { kind: 'stall'; afterChunks: number }
  /** Sends the whole SSE answer one byte every `byteDelayMs` (a crawling link or server). */
  | { kind: 'trickle'; byteDelayMs: number }
  | { kind: 'stream-error'; afterChunks: number; message: string }
  | { kind: 'empty' };

export interface FakeModel {
  id: string;
  /** Prompts longer than this many characters / 4 get llama.cpp's context-overflow error. */
  contextLength?: number;
  reply?: string | ((messages: Array<{ role: string; content: string }>) => string);
  chunks?: number;
  chunkDelayMs?: number;
  firstTokenDelayMs?: number;
  behaviour?: Behaviour;
  /** Behaviours for the next requests, used up one each, before `behaviour` applies. */
  queue?: Behaviour[];
  /** Awaited before answering each request (a test holds a turn at the server until it has seen what it needs). */
  hold?: (entry: ChatLogEntry) => Promise<void>;
}

export interface ChatLogEntry {
  model: string;
  messages: Array<{ role: string; content: string }>;
  maxTokens?: number;
  temperature?: number;
  /** The Authorization header as received (null when none). */
  authorization?: string | null;
  /** True when the client closed the connection before the answer was complete. */
  clientClosed?: boolean;
  at: number;
}

export interface OpenAIServerOptions {
  /** Answer 401 (OpenAI's body) unless `Authorization: Bearer <apiKey>` is sent. */
  apiKey?: string;
  /** Like some servers, repeat the wrong key back in the 401 message. */
  echoWrongKey?: boolean;
  /** Behave as llama.cpp's llama-server: /props with this n_ctx, /tokenize, `meta` on models. */
  llamaCpp?: { nCtx: number; vision?: boolean; sizeBytes?: number };
  /** Answer nothing (the connection stays open) until this long after start. */
  startDelayMs?: number;
  /** Listen on this port (0: any free port). */
  port?: number;
}

export interface FakeOpenAIServer {
  url: string;
  baseURL: string;
  models: Map<string, FakeModel>;
  requests: ChatLogEntry[];
  /** Every request as `METHOD path` with its Authorization header. */
  seen: Array<{ route: string; authorization: string | null }>;
  /** Chat completions being answered right now, and the most that were ever answered at once. */
  concurrency: { current: number; max: number };
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body;
}

function splitReply(text: string, parts: number): string[] {
  const size = Math.max(1, Math.ceil(text.length / parts));
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const invalid = (message: string, param: string | null = null) => ({ error: { message, type: 'invalid_request_error', param, code: null } });

/** OpenAI's validation of the fields Mai sends; null when the request is well-formed. */
function validate(body: Record<string, unknown>): unknown {
  if (typeof body.model !== 'string' || body.model === '') return invalid("you must provide a model parameter", 'model');
  if (!Array.isArray(body.messages) || body.messages.length === 0) return invalid("Invalid 'messages': empty array. Expected an array with minimum length 1.", 'messages');
  for (const [i, m] of (body.messages as Array<Record<string, unknown>>).entries()) {
    if (!['system', 'user', 'assistant', 'tool', 'developer'].includes(String(m?.role))) return invalid(`Invalid value: '${String(m?.role)}'. Supported values are: 'system', 'assistant', 'user', 'tool', and 'developer'.`, `messages[${i}].role`);
    if (typeof m?.content !== 'string') return invalid(`Invalid type for 'messages[${i}].content'.`, `messages[${i}].content`);
  }
  if (body.temperature !== undefined && (typeof body.temperature !== 'number' || body.temperature < 0 || body.temperature > 2)) {
    return invalid(`Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got ${String(body.temperature)} instead.`, 'temperature');
  }
  if (body.max_tokens !== undefined && (!Number.isInteger(body.max_tokens) || (body.max_tokens as number) < 1)) {
    return invalid(`Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got ${String(body.max_tokens)} instead.`, 'max_tokens');
  }
  return null;
}

export async function startOpenAIServer(models: FakeModel[], options: OpenAIServerOptions = {}): Promise<FakeOpenAIServer> {
  const registry = new Map(models.map((m) => [m.id, m]));
  const requests: ChatLogEntry[] = [];
  const seen: FakeOpenAIServer['seen'] = [];
  const concurrency = { current: 0, max: 0 };
  const startedAt = Date.now();
  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  const server: Server = createServer(async (req, res) => {
    const authorization = req.headers.authorization ?? null;
    seen.push({ route: `${req.method} ${req.url}`, authorization });
    if (options.startDelayMs) await sleep(Math.max(0, startedAt + options.startDelayMs - Date.now()));
    if (options.apiKey !== undefined && authorization !== `Bearer ${options.apiKey}`) {
      const given = authorization?.replace(/^Bearer /, '') ?? '';
      const shown = options.echoWrongKey ? given : `${given.slice(0, 3)}***`;
      return json(res, 401, { error: { message: `Incorrect API key provided: ${shown}. You can find your API key in your account settings.`, type: 'invalid_request_error', param: null, code: 'invalid_api_key' } });
    }
    if (req.method === 'GET' && req.url === '/v1/models') {
      const meta = (m: FakeModel) => (options.llamaCpp ? { meta: { n_ctx_train: m.contextLength ?? options.llamaCpp.nCtx, size: options.llamaCpp.sizeBytes ?? 0, n_params: 0, n_vocab: 256 } } : {});
      return json(res, 200, { object: 'list', data: [...registry.values()].map((m) => ({ id: m.id, object: 'model', created: 0, owned_by: 'test', ...meta(m) })) });
    }
    if (options.llamaCpp && req.method === 'GET' && req.url === '/props') {
      return json(res, 200, {
        default_generation_settings: { n_ctx: options.llamaCpp.nCtx, params: {} },
        total_slots: 1,
        model_path: '/models/test.gguf',
        modalities: { vision: options.llamaCpp.vision ?? false, audio: false },
        build_info: 'b0000-test',
      });
    }
    if (options.llamaCpp && req.method === 'POST' && req.url === '/tokenize') {
      const { content } = JSON.parse(await readBody(req)) as { content?: string };
      // A byte-level tokenizer: one token per UTF-8 byte, as the tiny test models have.
      return json(res, 200, { tokens: [...Buffer.from(content ?? '', 'utf8')] });
    }
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      return json(res, 404, { error: { message: `Not found: ${req.method} ${req.url}`, type: 'invalid_request_error' } });
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(await readBody(req)) as Record<string, unknown>;
    } catch {
      return json(res, 400, invalid('We could not parse the JSON body of your request.'));
    }
    const problem = validate(body);
    const messages = (Array.isArray(body.messages) ? body.messages : []) as Array<{ role: string; content: string }>;
    const entry: ChatLogEntry = {
      model: String(body.model),
      messages,
      ...(typeof body.max_tokens === 'number' ? { maxTokens: body.max_tokens } : {}),
      ...(typeof body.temperature === 'number' ? { temperature: body.temperature } : {}),
      authorization,
      at: Date.now(),
    };
    requests.push(entry);
    concurrency.current++;
    concurrency.max = Math.max(concurrency.max, concurrency.current);
    res.on('close', () => concurrency.current--);
    res.on('close', () => {
      if (!res.writableFinished) entry.clientClosed = true;
    });
    if (problem) return json(res, 400, problem);
    const model = registry.get(entry.model);
    if (!model) {
      return json(res, 404, { error: { message: `The model \`${entry.model}\` does not exist.`, type: 'invalid_request_error', code: 'model_not_found' } });
    }
    const behaviour = model.queue?.shift() ?? model.behaviour ?? { kind: 'ok' };
    const promptChars = messages.reduce((n, m) => n + m.content.length, 0);
    if (model.contextLength !== undefined && Math.ceil(promptChars / 4) + (entry.maxTokens ?? 0) > model.contextLength) {
      return json(res, 400, {
        error: {
          code: 400,
          message: `the request exceeds the available context size (${model.contextLength} tokens), try increasing it`,
          type: 'exceed_context_size_error',
          n_ctx: model.contextLength,
        },
      });
    }
    if (behaviour.kind === 'status') {
      return json(res, behaviour.status, behaviour.body ?? { error: { message: `status ${behaviour.status}`, type: 'server_error' } }, behaviour.retryAfter ? { 'retry-after': behaviour.retryAfter } : {});
    }
    if (behaviour.kind === 'hang') return; // never answers; the client must time out or abort
    if (model.hold) {
      await model.hold(entry);
      if (res.destroyed) return;
    }
    const text = behaviour.kind === 'empty' ? '' : typeof model.reply === 'function' ? model.reply(messages) : (model.reply ?? `Answer from ${model.id}.`);
    const id = `chatcmpl-${requests.length}`;
    const chunk = (delta: Record<string, unknown>, finish: string | null) => ({
      id,
      object: 'chat.completion.chunk',
      created: Math.floor(Date.now() / 1000),
      model: model.id,
      choices: [{ index: 0, delta, finish_reason: finish }],
    });
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    if (behaviour.kind === 'trickle') {
      const events = [chunk({ role: 'assistant', content: '' }, null), ...splitReply(text, model.chunks ?? 4).map((part) => chunk({ content: part }, null)), chunk({}, 'stop')];
      const whole = Buffer.from(`${events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join('')}data: [DONE]\n\n`);
      for (const byte of whole) {
        if (res.destroyed) return;
        res.write(Buffer.of(byte));
        await sleep(behaviour.byteDelayMs);
      }
      res.end();
      return;
    }
    if (model.firstTokenDelayMs) await sleep(model.firstTokenDelayMs);
    const parts = splitReply(text, model.chunks ?? 4);
    res.write(`data: ${JSON.stringify(chunk({ role: 'assistant', content: '' }, null))}\n\n`);
    for (const [i, part] of parts.entries()) {
      if (behaviour.kind === 'cut' && i >= behaviour.afterChunks) {
        // Let what was written reach the client, then drop the connection mid-answer.
        await new Promise<void>((resolve) => res.write('', () => resolve()));
        res.socket?.destroy();
        return;
      }
      if (behaviour.kind === 'stall' && i >= behaviour.afterChunks) return; // the connection stays open, silent
      if (behaviour.kind === 'stream-error' && i >= behaviour.afterChunks) {
        res.end(`data: ${JSON.stringify({ error: { message: behaviour.message, type: 'server_error' } })}\n\n`);
        return;
      }
      if (model.chunkDelayMs) await sleep(model.chunkDelayMs);
      if (res.destroyed) return;
      res.write(`data: ${JSON.stringify(chunk({ content: part }, null))}\n\n`);
    }
    res.write(`data: ${JSON.stringify(chunk({}, 'stop'))}\n\n`);
    res.write(
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 0, model: model.id, choices: [], usage: { prompt_tokens: Math.ceil(promptChars / 4), completion_tokens: parts.length, total_tokens: Math.ceil(promptChars / 4) + parts.length } })}\n\n`,
    );
    res.end('data: [DONE]\n\n');
  });
  const listening = await listenOnLoopback(server, options.port);
  const url = listening.url;
  return {
    url,
    baseURL: `${url}/v1`,
    models: registry,
    requests,
    seen,
    concurrency,
    close: listening.close,
  };
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released): connecting is refused. */
export async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
