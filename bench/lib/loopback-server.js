/**
 * An OpenAI-compatible server on 127.0.0.1 with a known speed, the "model" every benchmark talks
 * to: GET /v1/models and POST /v1/chat/completions streamed as server-sent events, each answer
 * taking a fixed time from the start of its service (its chunks spread evenly over it), at most
 * `capacity` answers at once (more wait in arrival order) — so its capacity is known exactly:
 * capacity / replyMs requests per millisecond. A model can also misbehave: `reset` drops the
 * connection as soon as a chat request arrives, `cut` streams some chunks and then drops it.
 * Plain JavaScript (run after the build, also as a child process: `node loopback-server.js JSON`
 * prints {"port"} on stdout and answers "stats" lines on stdin with its counters).
 */
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

/**
 * @typedef {object} LoopbackModel
 * @property {string} id
 * @property {'ok' | 'cut' | 'reset'} [behaviour] default ok
 * @property {number} [cutAfter] chunks streamed before a `cut` (default 2)
 */

/**
 * @typedef {object} LoopbackOptions
 * @property {LoopbackModel[]} models
 * @property {number} replyMs time from the start of an answer's service to its last chunk
 * @property {number} chunks content chunks per answer
 * @property {number} [capacity] answers served at once (default: no limit)
 * @property {number} [port] default: any free port
 * @property {boolean} [llamaCpp] also answer like llama.cpp's llama-server: GET /props (total_slots = capacity)
 *   and GET /metrics (llamacpp:requests_processing, llamacpp:requests_deferred), as Mai reads them
 */

/**
 * @typedef {object} LoopbackStats
 * @property {number} served answers completed
 * @property {number} firstStartAt performance.now() when the first answer's service started (0: none)
 * @property {number} lastEndAt performance.now() when the last answer ended
 * @property {number} maxConcurrent most answers in service at once
 * @property {number} queuedMax most requests waiting for a slot at once
 * @property {number[]} failedAt performance.now() of each reset or cut (this process's clock)
 */

/**
 * @typedef {object} LoopbackServer
 * @property {number} port
 * @property {string} baseURL http://127.0.0.1:port/v1
 * @property {LoopbackStats} stats
 * @property {() => void} resetStats
 * @property {() => Promise<void>} close
 */

/** @param {import('node:http').IncomingMessage} req */
async function readBody(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body;
}

/**
 * Exactly `parts` non-empty pieces of `text` (padded with dots when it is shorter).
 * @param {string} text
 * @param {number} parts
 */
function split(text, parts) {
  const padded = text.padEnd(parts, '.');
  /** @type {string[]} */
  const out = [];
  for (let i = 0; i < parts; i++) out.push(padded.slice(Math.floor((i * padded.length) / parts), Math.floor(((i + 1) * padded.length) / parts)));
  return out;
}

/** @param {number} at a performance.now() deadline */
function until(at) {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, at - performance.now())));
}

/** @returns {LoopbackStats} */
function freshStats() {
  return { served: 0, firstStartAt: 0, lastEndAt: 0, maxConcurrent: 0, queuedMax: 0, failedAt: [] };
}

/**
 * @param {LoopbackOptions} options
 * @returns {Promise<LoopbackServer>}
 */
export async function startLoopbackServer(options) {
  const models = new Map(options.models.map((m) => [m.id, m]));
  const capacity = options.capacity ?? Number.POSITIVE_INFINITY;
  let stats = freshStats();
  let inService = 0;
  /** @type {Array<() => void>} */
  const waiting = [];
  /** @type {Set<import('node:net').Socket>} */
  const sockets = new Set();

  const slot = () =>
    new Promise((resolve) => {
      if (inService < capacity) {
        inService++;
        resolve(undefined);
      } else {
        waiting.push(() => resolve(undefined));
        stats.queuedMax = Math.max(stats.queuedMax, waiting.length);
      }
    });
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else inService--;
  };

  /** @param {import('node:http').ServerResponse} res @param {number} status @param {unknown} body */
  const json = (res, status, body) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };

  const server = createServer(async (req, res) => {
    if (req.method === 'GET' && req.url === '/v1/models') {
      return json(res, 200, { object: 'list', data: [...models.values()].map((m) => ({ id: m.id, object: 'model', created: 0, owned_by: 'bench', context_length: 8192 })) });
    }
    if (options.llamaCpp && req.method === 'GET' && req.url === '/props') {
      return json(res, 200, { default_generation_settings: { n_ctx: 8192, params: {} }, total_slots: options.capacity ?? 1, model_path: '/models/bench.gguf' });
    }
    if (options.llamaCpp && req.method === 'GET' && req.url === '/metrics') {
      const gauge = (/** @type {string} */ name, /** @type {number} */ value) => `# HELP ${name} bench\n# TYPE ${name} gauge\n${name} ${value}\n`;
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      return res.end(gauge('llamacpp:requests_processing', inService) + gauge('llamacpp:requests_deferred', waiting.length));
    }
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      return json(res, 404, { error: { message: `Not found: ${req.method} ${req.url}`, type: 'invalid_request_error' } });
    }
    /** @type {{ model?: string, messages?: Array<{ role: string, content: string }> }} */
    let body;
    try {
      body = JSON.parse(await readBody(req));
    } catch {
      return json(res, 400, { error: { message: 'We could not parse the JSON body of your request.', type: 'invalid_request_error' } });
    }
    const model = models.get(String(body.model));
    if (!model) return json(res, 404, { error: { message: `The model \`${body.model}\` does not exist.`, type: 'invalid_request_error', code: 'model_not_found' } });
    if (model.behaviour === 'reset') {
      stats.failedAt.push(performance.now());
      req.socket.resetAndDestroy();
      return;
    }
    await slot();
    const startedAt = performance.now();
    if (stats.firstStartAt === 0) stats.firstStartAt = startedAt;
    stats.maxConcurrent = Math.max(stats.maxConcurrent, inService);
    try {
      const messages = Array.isArray(body.messages) ? body.messages : [];
      const last = [...messages].reverse().find((m) => m.role === 'user')?.content ?? '';
      const parts = split(`Answer to: ${last}.`, Math.max(1, options.chunks));
      const id = `chatcmpl-${stats.served}`;
      /** @param {Record<string, unknown>} delta @param {string | null} finish */
      const event = (delta, finish) => `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 0, model: model.id, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      res.write(event({ role: 'assistant', content: '' }, null));
      const step = parts.length > 1 ? options.replyMs / (parts.length - 1) : options.replyMs;
      for (const [i, part] of parts.entries()) {
        if (model.behaviour === 'cut' && i >= (model.cutAfter ?? 2)) {
          // Let what was written reach the client, then drop the connection mid-answer.
          await new Promise((resolve) => res.write('', () => resolve(undefined)));
          stats.failedAt.push(performance.now());
          res.socket?.destroy();
          return;
        }
        if (i > 0) await until(startedAt + i * step);
        if (res.destroyed) return;
        res.write(event({ content: part }, null));
      }
      if (parts.length <= 1) await until(startedAt + options.replyMs);
      res.write(event({}, 'stop'));
      res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 0, model: model.id, choices: [], usage: { prompt_tokens: 8, completion_tokens: parts.length, total_tokens: 8 + parts.length } })}\n\n`);
      res.end('data: [DONE]\n\n');
      stats.served++;
      stats.lastEndAt = performance.now();
    } finally {
      release();
    }
  });
  server.keepAliveTimeout = 60_000;
  server.on('connection', (socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve(undefined));
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    baseURL: `http://127.0.0.1:${port}/v1`,
    get stats() {
      return stats;
    },
    resetStats() {
      stats = freshStats();
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve(undefined));
      }),
  };
}

// As a child process: options as JSON in argv[2]; prints {"port"}; a "stats" line on stdin answers the counters.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const server = await startLoopbackServer(JSON.parse(process.argv[2] ?? '{}'));
  process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (text) => {
    if (String(text).includes('stats')) process.stdout.write(`${JSON.stringify(server.stats)}\n`);
    if (String(text).includes('reset')) server.resetStats();
  });
  process.stdin.on('end', () => void server.close().then(() => process.exit(0)));
}
