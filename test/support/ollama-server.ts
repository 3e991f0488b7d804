/**
 * A real HTTP server on 127.0.0.1 speaking Ollama's native API as its docs give it
 * (docs.ollama.com/api): GET /api/version, /api/tags, /api/ps; POST /api/show; POST /api/chat
 * streamed as NDJSON (`application/x-ndjson`, a final line with `done: true` and the counts),
 * load with an empty `messages`, unload with `keep_alive: 0`; errors as `{"error": "…"}` with
 * Ollama's status codes (400 bad request, 404 model not found, 429, 500), and errors mid-stream
 * as an `{"error": …}` line. Like Ollama, it truncates a prompt longer than num_ctx silently
 * (dropping the oldest messages, then cutting to the window) and reports what it read in
 * `prompt_eval_count`. It counts tokens with a real BPE tokenizer (gpt-tokenizer's cl100k) plus
 * 4 a message for the chat template, as a llama-3 style template adds.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { ollamaDetails, ollamaDigest, ollamaShowBody, truncatePrompt, type FakeOllamaModel } from './ollama-shapes.ts';
import { listenOnLoopback } from './loopback.ts';

export { ollamaTokens, type FakeOllamaModel, type OllamaBehaviour } from './ollama-shapes.ts';

export interface OllamaChatRecord {
  model: string;
  messages: Array<{ role: string; content: string }>;
  options?: { num_ctx?: number; num_predict?: number; temperature?: number };
  keep_alive?: string | number;
  stream?: boolean;
  /** What the model read after truncation (the prompt_eval_count sent back). */
  evaluated?: number;
  clientClosed?: boolean;
}

export interface FakeOllamaServer {
  url: string;
  models: Map<string, FakeOllamaModel>;
  /** Every POST /api/chat body, in order (loads and unloads included). */
  chats: OllamaChatRecord[];
  seen: string[];
  close(): Promise<void>;
}

export interface OllamaServerOptions {
  /** Answer nothing until this long after start. */
  startDelayMs?: number;
  port?: number;
  /** Ollama's default num_ctx when a request sets none. */
  defaultNumCtx?: number;
  /** Behave like a version from before GET /api/ps existed (404). */
  withoutPs?: boolean;
  /** Every loaded model's expires_at on /api/ps (a server whose clock differs from this machine's). */
  expiresAt?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => new Date().toISOString();
async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body;
}

export async function startOllamaServer(models: FakeOllamaModel[], options: OllamaServerOptions = {}): Promise<FakeOllamaServer> {
  const registry = new Map(models.map((m) => [m.name, m]));
  const chats: OllamaChatRecord[] = [];
  const seen: string[] = [];
  const startedAt = Date.now();
  const expires = new Map<string, string>();
  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify(body));
  };
  const markLoaded = (m: FakeOllamaModel, numCtx: number | undefined) => {
    m.loaded = true;
    expires.set(m.name, new Date(Date.now() + 5 * 60_000).toISOString());
    if (numCtx) m.runningContext = numCtx;
  };

  const server = createServer(async (req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (options.startDelayMs) await sleep(Math.max(0, startedAt + options.startDelayMs - Date.now()));
    if (req.method === 'GET' && req.url === '/') return void res.end('Ollama is running');
    if (req.method === 'GET' && req.url === '/api/version') return json(res, 200, { version: '0.12.6' });
    if (req.method === 'GET' && req.url === '/api/tags') {
      return json(res, 200, {
        models: [...registry.values()].map((m) => ({ name: m.name, model: m.name, modified_at: now(), size: m.sizeBytes ?? 1_000_000, digest: ollamaDigest(m), details: ollamaDetails(m) })),
      });
    }
    if (req.method === 'GET' && req.url === '/api/ps' && !options.withoutPs) {
      return json(res, 200, {
        models: [...registry.values()]
          .filter((m) => m.loaded)
          .map((m) => ({
            name: m.name,
            model: m.name,
            size: m.sizeBytes ?? 1_000_000,
            digest: ollamaDigest(m),
            details: ollamaDetails(m),
            expires_at: options.expiresAt ?? expires.get(m.name) ?? new Date(Date.now() + 5 * 60_000).toISOString(),
            size_vram: m.sizeVram ?? 0,
            context_length: m.runningContext ?? options.defaultNumCtx ?? 4096,
          })),
      });
    }
    if (req.method !== 'POST' || (req.url !== '/api/show' && req.url !== '/api/chat')) return json(res, 404, { error: '404 page not found' });
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(await readBody(req)) as Record<string, unknown>;
    } catch (error) {
      return json(res, 400, { error: `invalid character in request body: ${(error as Error).message}` });
    }
    const name = typeof body.model === 'string' ? body.model : '';
    if (name === '') return json(res, 400, { error: 'model is required' });
    const model = registry.get(name);
    if (req.url === '/api/show') {
      if (!model) return json(res, 404, { error: `model '${name}' not found` });
      return json(res, 200, ollamaShowBody(model));
    }
    const messages = Array.isArray(body.messages) ? (body.messages as Array<{ role: string; content: string }>) : [];
    const record: OllamaChatRecord = {
      model: name,
      messages,
      ...(body.options ? { options: body.options as NonNullable<OllamaChatRecord['options']> } : {}),
      ...(body.keep_alive !== undefined ? { keep_alive: body.keep_alive as string | number } : {}),
      ...(typeof body.stream === 'boolean' ? { stream: body.stream } : {}),
    };
    chats.push(record);
    res.on('close', () => {
      if (!res.writableFinished) record.clientClosed = true;
    });
    if (!model) return json(res, 404, { error: `model '${name}' not found` });
    const numCtx = record.options?.num_ctx ?? options.defaultNumCtx ?? 4096;
    if (messages.length === 0) {
      // Load (or, with keep_alive 0, unload): a single JSON object.
      if (body.keep_alive === 0 || body.keep_alive === '0') {
        model.loaded = false;
        return json(res, 200, { model: name, created_at: now(), message: { role: 'assistant', content: '' }, done_reason: 'unload', done: true });
      }
      if (!model.loaded && model.loadDelayMs) await sleep(model.loadDelayMs);
      markLoaded(model, numCtx);
      return json(res, 200, { model: name, created_at: now(), message: { role: 'assistant', content: '' }, done_reason: 'load', done: true });
    }
    const behaviour = model.queue?.shift() ?? model.behaviour ?? { kind: 'ok' };
    if (behaviour.kind === 'status') return json(res, behaviour.status, { error: behaviour.error }, behaviour.retryAfter ? { 'retry-after': behaviour.retryAfter } : {});
    if (behaviour.kind === 'hang') return;
    const loadStarted = Date.now();
    if (!model.loaded && model.loadDelayMs) await sleep(model.loadDelayMs);
    markLoaded(model, numCtx);
    const loadDuration = (Date.now() - loadStarted) * 1e6;
    const evaluated = truncatePrompt(messages, numCtx);
    record.evaluated = evaluated;
    const text = typeof model.reply === 'function' ? model.reply(messages) : (model.reply ?? `Answer from ${name}.`);
    const parts: string[] = [];
    const size = Math.max(1, Math.ceil(text.length / (model.chunks ?? 4)));
    for (let i = 0; i < text.length; i += size) parts.push(text.slice(i, i + size));
    const limit = record.options?.num_predict;
    const emitted = limit !== undefined && limit > 0 ? parts.slice(0, limit) : parts;
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    for (const [i, part] of emitted.entries()) {
      if (behaviour.kind === 'cut' && i >= behaviour.afterChunks) {
        await new Promise<void>((resolve) => res.write('', () => resolve()));
        res.socket?.destroy();
        return;
      }
      if (behaviour.kind === 'stream-error' && i >= behaviour.afterChunks) return void res.end(`${JSON.stringify({ error: behaviour.error })}\n`);
      if (model.chunkDelayMs) await sleep(model.chunkDelayMs);
      if (res.destroyed) return;
      res.write(`${JSON.stringify({ model: name, created_at: now(), message: { role: 'assistant', content: part }, done: false })}\n`);
    }
    if (behaviour.kind === 'no-done') return void res.end();
    res.end(
      `${JSON.stringify({
        model: name,
        created_at: now(),
        message: { role: 'assistant', content: '' },
        done_reason: emitted.length < parts.length ? 'length' : 'stop',
        done: true,
        total_duration: loadDuration + 2_000_000,
        load_duration: loadDuration,
        prompt_eval_count: evaluated,
        prompt_eval_duration: 1_000_000,
        eval_count: emitted.length,
        eval_duration: 1_000_000,
      })}\n`,
    );
  });
  const listening = await listenOnLoopback(server, options.port);
  return {
    url: listening.url,
    models: registry,
    chats,
    seen,
    close: listening.close,
  };
}
