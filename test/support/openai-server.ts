/**
 * A real HTTP server on 127.0.0.1 that speaks the OpenAI API shapes Mai uses: GET /v1/models and
 * POST /v1/chat/completions, streamed as server-sent events (`data: {chunk}` … `data: [DONE]`).
 * Each model can be told to misbehave the ways real servers do: 500, 429 + Retry-After, hang,
 * cut the stream mid-way, or reject a prompt longer than its window with llama.cpp's error body.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Behaviour =
  | { kind: 'ok' }
  | { kind: 'status'; status: number; body?: unknown; retryAfter?: string }
  | { kind: 'hang' }
  | { kind: 'cut'; afterChunks: number }
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
}

export interface ChatLogEntry {
  model: string;
  messages: Array<{ role: string; content: string }>;
  maxTokens?: number;
  at: number;
}

export interface FakeOpenAIServer {
  url: string;
  baseURL: string;
  models: Map<string, FakeModel>;
  requests: ChatLogEntry[];
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

export async function startOpenAIServer(models: FakeModel[]): Promise<FakeOpenAIServer> {
  const registry = new Map(models.map((m) => [m.id, m]));
  const requests: ChatLogEntry[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  const server: Server = createServer(async (req, res) => {
    if (req.method === 'GET' && req.url === '/v1/models') {
      return json(res, 200, { object: 'list', data: [...registry.values()].map((m) => ({ id: m.id, object: 'model', created: 0, owned_by: 'test' })) });
    }
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      return json(res, 404, { error: { message: `Not found: ${req.method} ${req.url}`, type: 'invalid_request_error' } });
    }
    const body = JSON.parse(await readBody(req)) as { model: string; messages: Array<{ role: string; content: string }>; stream?: boolean; max_tokens?: number };
    const model = registry.get(body.model);
    requests.push({ model: body.model, messages: body.messages, ...(body.max_tokens ? { maxTokens: body.max_tokens } : {}), at: Date.now() });
    if (!model) {
      return json(res, 404, { error: { message: `The model \`${body.model}\` does not exist.`, type: 'invalid_request_error', code: 'model_not_found' } });
    }
    const behaviour = model.queue?.shift() ?? model.behaviour ?? { kind: 'ok' };
    const promptChars = body.messages.reduce((n, m) => n + m.content.length, 0);
    if (model.contextLength !== undefined && Math.ceil(promptChars / 4) + (body.max_tokens ?? 0) > model.contextLength) {
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
    const text = behaviour.kind === 'empty' ? '' : typeof model.reply === 'function' ? model.reply(body.messages) : (model.reply ?? `Answer from ${model.id}.`);
    const id = `chatcmpl-${requests.length}`;
    const chunk = (delta: Record<string, unknown>, finish: string | null) => ({
      id,
      object: 'chat.completion.chunk',
      created: Math.floor(Date.now() / 1000),
      model: model.id,
      choices: [{ index: 0, delta, finish_reason: finish }],
    });
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    if (model.firstTokenDelayMs) await sleep(model.firstTokenDelayMs);
    const parts = splitReply(text, model.chunks ?? 4);
    res.write(`data: ${JSON.stringify(chunk({ role: 'assistant', content: '' }, null))}\n\n`);
    for (const [i, part] of parts.entries()) {
      if (behaviour.kind === 'cut' && i >= behaviour.afterChunks) {
        res.socket?.destroy();
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
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    baseURL: `${url}/v1`,
    models: registry,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
