/**
 * The openai backend against a real HTTP server on loopback speaking the OpenAI API (and, when
 * asked, llama.cpp's extras): listing, streaming, aborting, counting tokens, the API key, and
 * every error kind produced by its real cause.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../core/config/load.ts';
import { createLogger } from '../core/log.ts';
import { Mai } from '../core/mai.ts';
import { FixedMonitor } from '../core/monitor/resource-monitor.ts';
import { OpenAIBackend, OpenAIBackendOptions } from '../plugins/backends/openai.ts';
import { drain, failure, until } from './support/backend-helpers.ts';
import { snapshot, tempDir, writeConfig } from './support/harness.ts';
import { closedPort, startOpenAIServer, type FakeModel, type FakeOpenAIServer, type OpenAIServerOptions } from './support/openai-server.ts';
import { builtinPlugins } from '../plugins/index.ts';

const servers: FakeOpenAIServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(models: FakeModel[], options?: OpenAIServerOptions): Promise<FakeOpenAIServer> {
  const server = await startOpenAIServer(models, options);
  servers.push(server);
  return server;
}

function backendFor(baseURL: string, options: Partial<OpenAIBackendOptions> = {}, apiKey?: string): OpenAIBackend {
  return new OpenAIBackend('oa', OpenAIBackendOptions.parse({ baseURL, ...options }), apiKey);
}

const hello = [{ role: 'user' as const, content: 'Say hello.' }];

describe('openai backend: listing, streaming, aborting', () => {
  it('lists the models of a plain OpenAI-compatible server as loaded, asking /props once', async () => {
    const server = await serve([{ id: 'alpha' }, { id: 'beta' }]);
    const backend = backendFor(server.baseURL);
    expect(await backend.listModels()).toEqual([
      { id: 'alpha', loaded: true },
      { id: 'beta', loaded: true },
    ]);
    await backend.listModels();
    // /props answered 404 the first time: the backend stopped asking.
    expect(server.seen.filter((s) => s.route === 'GET /props')).toHaveLength(1);
  });

  it("reads llama.cpp's /props (context size, vision) and the size from /v1/models meta", async () => {
    const server = await serve([{ id: 'tiny.gguf' }], { llamaCpp: { nCtx: 2048, vision: true, sizeBytes: 123_456 } });
    expect(await backendFor(server.baseURL).listModels()).toEqual([
      { id: 'tiny.gguf', loaded: true, artifact: 'tiny.gguf', contextLength: 2048, sizeBytes: 123_456, capabilities: ['chat', 'vision'] },
    ]);
  });

  it('waits for a slow-starting server within the request timeout, and times out past it', async () => {
    const server = await serve([{ id: 'alpha' }], { startDelayMs: 400 });
    expect((await failure(backendFor(server.baseURL, { requestTimeoutMs: 100 }).listModels())).code).toBe('timeout');
    expect(await backendFor(server.baseURL, { requestTimeoutMs: 5_000 }).listModels()).toEqual([{ id: 'alpha', loaded: true }]);
  });

  it('streams deltas, then a done chunk with usage; the server got the messages and limits', async () => {
    const server = await serve([{ id: 'alpha', reply: 'Hello there, friend.', chunks: 4 }]);
    const result = await drain(backendFor(server.baseURL), { model: 'alpha', messages: hello, maxTokens: 64, temperature: 0.2 });
    expect(result.error).toBeUndefined();
    expect(result.deltas.length).toBe(4);
    expect(result.deltas.join('')).toBe('Hello there, friend.');
    expect(result.done).toEqual({ type: 'done', finishReason: 'stop', usage: { promptTokens: 3, completionTokens: 4 } });
    expect(server.requests[0]).toMatchObject({ model: 'alpha', messages: hello, maxTokens: 64, temperature: 0.2 });
  });

  it('aborting the signal mid-stream stops the stream as cancelled and closes the connection', async () => {
    const server = await serve([{ id: 'slow', reply: 'one two three four five six seven eight', chunks: 8, chunkDelayMs: 60 }]);
    const controller = new AbortController();
    const result = await drain(backendFor(server.baseURL), { model: 'slow', messages: hello, signal: controller.signal }, () => controller.abort());
    expect(result.deltas.length).toBeGreaterThanOrEqual(1);
    expect(result.deltas.length).toBeLessThan(8);
    expect(result.done).toBeUndefined();
    expect(result.error?.code).toBe('cancelled');
    expect(result.error?.retryable).toBe(false);
    await until(() => server.requests[0]?.clientClosed === true);
  });

  it('a signal aborted before the request goes, or before the server answers, cancels at once (no wait for a timeout)', async () => {
    const server = await serve([{ id: 'stuck', behaviour: { kind: 'hang' } }]);
    const before = new AbortController();
    before.abort();
    expect((await drain(backendFor(server.baseURL), { model: 'stuck', messages: hello, signal: before.signal })).error?.code).toBe('cancelled');
    expect(server.requests).toHaveLength(0);
    const waiting = new AbortController();
    const chat = drain(backendFor(server.baseURL), { model: 'stuck', messages: hello, signal: waiting.signal });
    await until(() => server.requests.length === 1);
    waiting.abort();
    expect((await chat).error?.code).toBe('cancelled');
    await until(() => server.requests[0]?.clientClosed === true);
  });

  it('a caller that stops reading mid-stream (no abort) closes the connection too', async () => {
    const server = await serve([{ id: 'slow', reply: 'one two three four five six seven eight', chunks: 8, chunkDelayMs: 60 }]);
    for await (const chunk of backendFor(server.baseURL).chat({ model: 'slow', messages: hello, signal: new AbortController().signal })) {
      if (chunk.type === 'delta') break;
    }
    await until(() => server.requests[0]?.clientClosed === true);
  });

  it('follows a 307 or 308 in front of the server (the chat request sent again there); any other redirect is an error naming where it points', async () => {
    const server = await serve([{ id: 'alpha', reply: 'Hello there.', chunks: 2 }]);
    const front = await redirector((req) => (req.url === '/old/v1/chat/completions' ? 307 : req.url === '/older/v1/chat/completions' ? 308 : 302), server.baseURL);
    try {
      for (const path of ['old', 'older']) {
        const moved = await drain(backendFor(`${front.origin}/${path}/v1`), { model: 'alpha', messages: hello });
        expect(moved.error).toBeUndefined();
        expect(moved.deltas.join('')).toBe('Hello there.');
      }
      expect(server.requests.map((r) => r.messages)).toEqual([hello, hello]);
      const refused = await drain(backendFor(`${front.origin}/elsewhere/v1`), { model: 'alpha', messages: hello });
      expect(refused.error?.code).toBe('bad-request');
      expect(refused.error?.message).toMatch(/redirects its chat requests \(302 to http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions\).*baseURL/);
      expect(server.requests).toHaveLength(2);
    } finally {
      await front.close();
    }
  });

  it('a redirect to another origin does not carry the API key there (as fetch does)', async () => {
    const server = await serve([{ id: 'alpha', reply: 'Hello there.', chunks: 2 }]);
    const front = await redirector(() => 307, server.baseURL);
    try {
      const moved = await drain(backendFor(`${front.origin}/old/v1`, {}, 'sk-stays-at-its-origin'), { model: 'alpha', messages: hello });
      expect(moved.error).toBeUndefined();
      expect(moved.deltas.join('')).toBe('Hello there.');
      expect(server.seen.at(-1)?.authorization).toBeNull();
    } finally {
      await front.close();
    }
  });

  it("counts tokens with llama.cpp's /tokenize, and says plainly when a server has none", async () => {
    const llama = await serve([{ id: 'tiny.gguf' }], { llamaCpp: { nCtx: 2048 } });
    expect(await backendFor(llama.baseURL).countTokens('tiny.gguf', 'héllo')).toBe(6); // byte-level: é is 2 bytes
    const plain = await serve([{ id: 'alpha' }]);
    const backend = backendFor(plain.baseURL);
    const first = await failure(backend.countTokens('alpha', 'hello'));
    expect(first.code).toBe('bad-request');
    expect(first.retryable).toBe(false);
    await failure(backend.countTokens('alpha', 'hello'));
    expect(plain.seen.filter((s) => s.route === 'POST /tokenize')).toHaveLength(1);
  });

  it('health says reachable, or unreachable with the reason', async () => {
    const server = await serve([{ id: 'alpha' }]);
    expect(await backendFor(server.baseURL).health()).toEqual({ reachable: true });
    const down = await backendFor(`http://127.0.0.1:${await closedPort()}/v1`).health();
    expect(down.reachable).toBe(false);
    expect(down.error).toMatch(/cannot be reached \(ECONNREFUSED\)/);
  });
});

describe('openai backend: the API key', () => {
  const KEY = 'sk-test-0123456789abcdef-SECRET';

  it('sends the key named by apiKeyEnv as a Bearer token, and no key (not even OPENAI_API_KEY) when none is named', async () => {
    const server = await serve([{ id: 'alpha' }], { apiKey: KEY, llamaCpp: { nCtx: 1024 } });
    const backend = backendFor(server.baseURL, {}, KEY);
    await backend.listModels();
    await drain(backend, { model: 'alpha', messages: hello });
    await backend.countTokens('alpha', 'abc');
    expect(server.seen.map((s) => s.route)).toEqual(['GET /v1/models', 'GET /props', 'POST /v1/chat/completions', 'POST /tokenize']);
    expect(server.seen.every((s) => s.authorization === `Bearer ${KEY}`)).toBe(true);

    const open = await serve([{ id: 'alpha' }]);
    const saved = process.env.OPENAI_API_KEY;
    process.env.OPENAI_API_KEY = 'sk-cloud-key-that-must-stay-home';
    try {
      await backendFor(open.baseURL).listModels();
      await drain(backendFor(open.baseURL), { model: 'alpha', messages: hello });
    } finally {
      if (saved === undefined) delete process.env.OPENAI_API_KEY;
      else process.env.OPENAI_API_KEY = saved;
    }
    expect(open.seen.length).toBeGreaterThan(0);
    expect(open.seen.every((s) => s.authorization === null)).toBe(true);
  });

  it('never writes the key to a log line or an error, even when the server echoes it back', async () => {
    // The server expects another key and repeats the one it got in its 401 message.
    const server = await serve([{ id: 'alpha' }], { apiKey: 'the-right-key', echoWrongKey: true });
    const dir = await tempDir();
    const written: string[] = [];
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    const consoleSpies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((m) =>
      vi.spyOn(console, m).mockImplementation((...args: unknown[]) => void written.push(args.map(String).join(' '))),
    );
    try {
      const file = await writeConfig(dir.path, `
backends:
  - use: openai
    name: keyed
    options: { baseURL: ${server.baseURL}, apiKeyEnv: TEST_LLM_KEY }
scorers: [{ use: context-fit }]
models: [{ id: alpha, contextLength: 4096 }]
`);
      const mai = await Mai.create({
        plugins: builtinPlugins,
        loaded: loadConfig({ flag: file }),
        log: createLogger('test', 'debug'),
        env: { TEST_LLM_KEY: KEY },
        createMonitor: () => new FixedMonitor(snapshot()),
      });
      const models = await mai.models();
      const status = mai.status();
      const turn = await failure(mai.chat({ message: 'hello' }));
      await mai.close();
      const everything = [...written, JSON.stringify(models), JSON.stringify(status), turn.message, JSON.stringify(turn.toJSON())].join('\n');
      // The listing failed with the server's 401, which repeated the key: it reached Mai redacted.
      expect(status.backends[0]?.reachable).toBe(false);
      expect(status.backends[0]?.error).toMatch(/401.*Incorrect API key provided: \[redacted\]/);
      expect(server.seen.length).toBeGreaterThan(0);
      expect(server.seen.every((s) => s.authorization === `Bearer ${KEY}`)).toBe(true);
      expect(everything).not.toContain(KEY);
      expect(everything).not.toContain(KEY.slice(8));
    } finally {
      stderr.mockRestore();
      for (const spy of consoleSpies) spy.mockRestore();
      await dir.cleanup();
    }
  });
});

describe('openai backend: every error kind from its real cause', () => {
  it('unreachable: nothing listens on the port (connection refused)', async () => {
    const backend = backendFor(`http://127.0.0.1:${await closedPort()}/v1`);
    expect((await failure(backend.listModels())).code).toBe('unreachable');
    const chat = await drain(backend, { model: 'alpha', messages: hello });
    expect(chat.error?.code).toBe('unreachable');
    expect(chat.error?.retryable).toBe(true);
  });

  it('timeout: the server accepts the request and never answers', async () => {
    const server = await serve([{ id: 'stuck', behaviour: { kind: 'hang' } }]);
    const chat = await drain(backendFor(server.baseURL, { requestTimeoutMs: 300 }), { model: 'stuck', messages: hello });
    expect(chat.error?.code).toBe('timeout');
  });

  it('rate-limited: 429 with Retry-After, carried as retryAfterMs', async () => {
    const server = await serve([{ id: 'busy', behaviour: { kind: 'status', status: 429, retryAfter: '2', body: { error: { message: 'Rate limit reached', type: 'requests' } } } }]);
    const chat = await drain(backendFor(server.baseURL), { model: 'busy', messages: hello });
    expect(chat.error?.code).toBe('rate-limited');
    expect(chat.error?.data?.retryAfterMs).toBe(2000);
  });

  it("context-overflow: llama.cpp's 400 for a prompt longer than the window", async () => {
    const server = await serve([{ id: 'small', contextLength: 64 }]);
    const chat = await drain(backendFor(server.baseURL), { model: 'small', messages: [{ role: 'user', content: 'x'.repeat(1000) }] });
    expect(chat.error?.code).toBe('context-overflow');
    expect(chat.error?.message).toMatch(/exceeds the available context size/);
  });

  it('model-not-found: 404 for a model the server does not have', async () => {
    const server = await serve([{ id: 'alpha' }]);
    const chat = await drain(backendFor(server.baseURL), { model: 'nope', messages: hello });
    expect(chat.error?.code).toBe('model-not-found');
  });

  it('server-error: a 500, and an error event in the middle of the stream', async () => {
    const server = await serve([
      { id: 'broken', behaviour: { kind: 'status', status: 500 } },
      { id: 'flaky', reply: 'abcdefgh', behaviour: { kind: 'stream-error', afterChunks: 2, message: 'the model crashed' } },
    ]);
    const backend = backendFor(server.baseURL);
    expect((await drain(backend, { model: 'broken', messages: hello })).error?.code).toBe('server-error');
    const flaky = await drain(backend, { model: 'flaky', messages: hello });
    expect(flaky.deltas.join('')).toBe('abcd');
    expect(flaky.error?.code).toBe('server-error');
    expect(flaky.error?.message).toMatch(/the model crashed/);
  });

  it('stream-cut: the socket is destroyed after two chunks', async () => {
    const server = await serve([{ id: 'cut', reply: 'abcdefgh', behaviour: { kind: 'cut', afterChunks: 2 } }]);
    const chat = await drain(backendFor(server.baseURL), { model: 'cut', messages: hello });
    expect(chat.deltas.join('')).toBe('abcd');
    expect(chat.done).toBeUndefined();
    expect(chat.error?.code).toBe('stream-cut');
  });

  it('bad-request: a malformed request (temperature out of range) is a 400, not retried', async () => {
    const server = await serve([{ id: 'alpha' }]);
    const chat = await drain(backendFor(server.baseURL), { model: 'alpha', messages: hello, temperature: 5 });
    expect(chat.error?.code).toBe('bad-request');
    expect(chat.error?.retryable).toBe(false);
    expect(chat.error?.message).toMatch(/temperature/);
  });
});

/** A server that redirects every request to the same path under `to` (a model server's /v1), with the status `statusFor` picks. */
async function redirector(statusFor: (req: IncomingMessage) => number, to: string): Promise<{ origin: string; close(): Promise<void> }> {
  const target = new URL(to);
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(statusFor(req), { location: `${target.origin}${req.url?.replace(/^\/[^/]+/, '')}` }).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
