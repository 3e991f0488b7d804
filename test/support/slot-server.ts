/**
 * A real HTTP server on 127.0.0.1 that serves like llama.cpp's llama-server, vLLM or SGLang: a
 * fixed number of slots, each answering one request at a time (streamed as server-sent events,
 * `replyMs` per answer); requests beyond the slots wait in its own queue, in arrival order, the way
 * llama.cpp defers them and vLLM keeps them waiting. What it publishes is what it really sees:
 * llama.cpp's GET /props (`total_slots`), GET /slots (`is_processing`) and GET /metrics
 * (`llamacpp:requests_processing`, `llamacpp:requests_deferred`, `llamacpp:kv_cache_usage_ratio`);
 * vLLM's GET /metrics (`vllm:num_requests_running`, `vllm:num_requests_waiting`, and
 * `vllm:kv_cache_usage_perc` or the older `vllm:gpu_cache_usage_perc`); SGLang's
 * (`sglang:num_running_reqs`, `sglang:num_queue_reqs`, `sglang:token_usage`).
 * It can misbehave the ways the issue names: /metrics missing, slow, huge or not Prometheus text,
 * slots it lies about, other clients' load (`foreign` requests held in its slots or queue), and it
 * can die (stop listening, its open streams cut) and come back on the same port.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { listenOnLoopback, type Listening } from './loopback.ts';

export type Flavour = 'llamacpp' | 'vllm' | 'vllm-old' | 'sglang';
export type MetricsBehaviour = 'ok' | 'missing' | 'slow' | 'huge' | 'garbage';

export interface SlotServerOptions {
  flavour: Flavour;
  /** Model ids it serves (vLLM/SGLang: usually one). */
  models: string[];
  slots: number;
  /** How long one answer takes in its slot, and in how many chunks. */
  replyMs?: number;
  chunks?: number;
  /** llama.cpp: what /props says total_slots is (a lie when it differs from `slots`). */
  reportedSlots?: number;
  /** llama.cpp: the GGUF file's path (/props model_path). */
  modelPath?: string;
  /** llama.cpp: model size in bytes on /v1/models (meta.size). */
  sizeBytes?: number;
  metrics?: MetricsBehaviour;
  /** llama.cpp: /slots enabled (--slots). Default true. */
  slotsEndpoint?: boolean;
  port?: number;
}

export interface SlotServer {
  url: string;
  baseURL: string;
  port: number;
  /** Requests in a slot now, and the most ever at once. */
  running: number;
  maxRunning: number;
  /** Requests waiting for a slot now. */
  waiting: number;
  /** Chat requests answered in full, and the conversations' first user messages seen, in order. */
  served: number;
  prompts: string[];
  /** Requests to GET /metrics, /props and /slots. */
  probes: number;
  metrics: MetricsBehaviour;
  /** Other clients' requests: holds `n` of them (in slots first, the rest queued) until released. */
  foreign(n: number): void;
  releaseForeign(): void;
  /** Stops listening (connections refused) and cuts every open stream. */
  kill(): Promise<void>;
  /** Listens again on the same port. */
  revive(): Promise<void>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body;
}

export async function startSlotServer(options: SlotServerOptions): Promise<SlotServer> {
  const replyMs = options.replyMs ?? 40;
  const chunks = options.chunks ?? 4;
  const queue: Array<() => void> = [];
  let foreignHeld = 0;
  const state = { running: 0, maxRunning: 0, waiting: 0, served: 0, probes: 0 };
  const prompts: string[] = [];
  let metricsBehaviour: MetricsBehaviour = options.metrics ?? 'ok';

  const acquire = () =>
    new Promise<void>((resolve) => {
      if (state.running < options.slots) {
        state.running++;
        state.maxRunning = Math.max(state.maxRunning, state.running);
        resolve();
      } else {
        state.waiting++;
        queue.push(() => {
          state.waiting--;
          state.running++;
          state.maxRunning = Math.max(state.maxRunning, state.running);
          resolve();
        });
      }
    });
  const release = () => {
    state.running--;
    queue.shift()?.();
  };

  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  function metricsText(): string {
    const kv = Math.min(1, state.running / options.slots);
    const g = (name: string, value: number, labels = '') => `# HELP ${name} test\n# TYPE ${name} gauge\n${name}${labels} ${value}\n`;
    const model = `{model_name="${options.models[0]}"}`;
    switch (options.flavour) {
      case 'llamacpp':
        return g('llamacpp:prompt_tokens_total', state.served * 10) + g('llamacpp:requests_processing', state.running) + g('llamacpp:requests_deferred', state.waiting) + g('llamacpp:kv_cache_usage_ratio', kv);
      case 'vllm':
        return g('vllm:num_requests_running', state.running, model) + g('vllm:num_requests_waiting', state.waiting, model) + g('vllm:kv_cache_usage_perc', kv, model);
      case 'vllm-old':
        return g('vllm:num_requests_running', state.running, model) + g('vllm:num_requests_waiting', state.waiting, model) + g('vllm:gpu_cache_usage_perc', kv, model);
      case 'sglang':
        return g('sglang:num_running_reqs', state.running, model) + g('sglang:num_queue_reqs', state.waiting, model) + g('sglang:token_usage', kv, model);
    }
  }

  async function serveMetrics(res: ServerResponse): Promise<void> {
    if (metricsBehaviour === 'missing') return json(res, options.flavour === 'llamacpp' ? 501 : 404, { error: { code: 501, message: 'This server does not support metrics endpoint. Start it with `--metrics`', type: 'not_supported_error' } });
    if (metricsBehaviour === 'garbage') {
      res.writeHead(200, { 'content-type': 'text/html' });
      return void res.end('<html><body><h1>502 Bad Gateway</h1></body></html>');
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    if (metricsBehaviour === 'slow') {
      // The probe must give up long before; its hang-up ends the wait, so no timer outlives the test.
      await new Promise<void>((done) => {
        const timer = setTimeout(done, 30_000);
        res.once('close', () => {
          clearTimeout(timer);
          done();
        });
      });
      if (!res.destroyed) res.end(metricsText());
      return;
    }
    if (metricsBehaviour === 'huge') {
      // Valid-looking Prometheus text that never ends (until the client hangs up).
      const line = `${'# HELP padding a very long page\n'.repeat(1000)}`;
      for (let i = 0; i < 100_000 && !res.destroyed; i++) {
        if (!res.write(line)) await new Promise((r) => res.once('drain', r));
      }
      if (!res.destroyed) res.end(metricsText());
      return;
    }
    res.end(metricsText());
  }

  async function chat(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = JSON.parse(await readBody(req)) as { model?: string; messages?: Array<{ role: string; content: string }> };
    if (!body.model || !options.models.includes(body.model)) {
      return json(res, 404, { error: { message: `The model \`${String(body.model)}\` does not exist.`, type: 'invalid_request_error', code: 'model_not_found' } });
    }
    const last = body.messages?.filter((m) => m.role === 'user').at(-1)?.content ?? '';
    prompts.push(last);
    let closed = false;
    res.on('close', () => (closed = true));
    await acquire();
    try {
      if (closed) return;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const text = `Answer to: ${last}.`;
      const size = Math.ceil(text.length / chunks);
      const chunk = (delta: Record<string, unknown>, finish: string | null) =>
        `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 0, model: body.model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
      res.write(chunk({ role: 'assistant', content: '' }, null));
      for (let i = 0; i < chunks; i++) {
        await sleep(replyMs / chunks);
        if (closed) return;
        res.write(chunk({ content: text.slice(i * size, (i + 1) * size) }, null));
      }
      res.write(chunk({}, 'stop'));
      res.end('data: [DONE]\n\n');
      state.served++;
    } finally {
      release();
    }
  }

  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    try {
      const llama = options.flavour === 'llamacpp';
      if (req.method === 'GET' && req.url === '/v1/models') {
        const meta = llama ? { meta: { n_ctx_train: 4096, size: options.sizeBytes ?? 0, n_params: 0, n_vocab: 256 } } : { max_model_len: 4096 };
        return json(res, 200, { object: 'list', data: options.models.map((id) => ({ id, object: 'model', created: 0, owned_by: 'test', ...meta })) });
      }
      if (req.method === 'GET' && req.url === '/metrics') {
        state.probes++;
        return await serveMetrics(res);
      }
      if (llama && req.method === 'GET' && req.url === '/props') {
        state.probes++;
        return json(res, 200, {
          default_generation_settings: { n_ctx: 4096, params: {} },
          total_slots: options.reportedSlots ?? options.slots,
          model_path: options.modelPath ?? `/models/${options.models[0]}.gguf`,
          modalities: { vision: false, audio: false },
        });
      }
      if (llama && req.method === 'GET' && req.url === '/slots') {
        state.probes++;
        if (options.slotsEndpoint === false) return json(res, 501, { error: { code: 501, message: 'This server does not support slots endpoint. Start it with `--slots`', type: 'not_supported_error' } });
        return json(res, 200, Array.from({ length: options.slots }, (_, id) => ({ id, n_ctx: 4096, is_processing: id < state.running })));
      }
      if (req.method === 'POST' && req.url === '/v1/chat/completions') return await chat(req, res);
      json(res, 404, { error: { message: `Not found: ${req.method} ${req.url}`, type: 'invalid_request_error' } });
    } catch (error) {
      if (!res.headersSent) json(res, 500, { error: { message: String(error), type: 'server_error' } });
      else res.destroy();
    }
  };

  let server: Server = createServer(handler);
  let listening: Listening = await listenOnLoopback(server, options.port);
  const port = listening.port;
  const foreignReleases: Array<() => void> = [];

  const api: SlotServer = {
    url: listening.url,
    baseURL: `${listening.url}/v1`,
    port,
    get running() {
      return state.running;
    },
    get maxRunning() {
      return state.maxRunning;
    },
    get waiting() {
      return state.waiting;
    },
    get served() {
      return state.served;
    },
    get probes() {
      return state.probes;
    },
    prompts,
    get metrics() {
      return metricsBehaviour;
    },
    set metrics(value: MetricsBehaviour) {
      metricsBehaviour = value;
    },
    foreign(n) {
      for (let i = 0; i < n; i++) {
        foreignHeld++;
        void acquire().then(() => {
          foreignReleases.push(() => {
            foreignHeld--;
            release();
          });
        });
      }
    },
    releaseForeign() {
      // Held ones go; queued ones are let through and go at once.
      const drain = () => {
        while (foreignReleases.length > 0) foreignReleases.shift()!();
        if (foreignHeld > 0) setTimeout(drain, 5);
      };
      drain();
    },
    async kill() {
      await listening.close();
    },
    async revive() {
      server = createServer(handler);
      listening = await listenOnLoopback(server, port);
    },
    async close() {
      this.releaseForeign();
      await listening.close().catch(() => undefined);
    },
  };
  return api;
}
