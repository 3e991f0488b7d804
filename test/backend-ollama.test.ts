/**
 * The ollama backend against a real HTTP server on loopback speaking Ollama's native API:
 * listing (tags + ps + show), NDJSON streaming with num_ctx, aborting, load/unload, the silent
 * truncation Ollama does on overflow, and every error kind produced by its real cause.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { estimateMessages } from '../core/context/tokens.ts';
import type { ChatMessage } from '../core/types.ts';
import { OllamaBackend, OllamaBackendOptions } from '../plugins/backends/ollama.ts';
import { promptWasTruncated } from '../plugins/backends/ollama-chat.ts';
import { drain, failure, until } from './support/backend-helpers.ts';
import { closedPort } from './support/openai-server.ts';
import { ollamaTokens, startOllamaServer, type FakeOllamaModel, type FakeOllamaServer, type OllamaServerOptions } from './support/ollama-server.ts';
import { ollamaDigest } from './support/ollama-shapes.ts';

const servers: FakeOllamaServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(models: FakeOllamaModel[], options?: OllamaServerOptions): Promise<FakeOllamaServer> {
  const server = await startOllamaServer(models, options);
  servers.push(server);
  return server;
}

const backendFor = (url: string, options: Partial<OllamaBackendOptions> = {}) => new OllamaBackend('ol', OllamaBackendOptions.parse({ baseURL: url, ...options }));
const hello: ChatMessage[] = [{ role: 'user', content: 'Say hello.' }];

const llama: FakeOllamaModel = {
  name: 'llama3.2:latest',
  sizeBytes: 2_019_393_189,
  sizeVram: 1_500_000_000,
  quantization: 'Q4_K_M',
  contextLength: 131_072,
  capabilities: ['completion', 'tools'],
  architecture: { layers: 28, heads: 24, kvHeads: 8, embedding: 3072 },
  loaded: true,
};
const qwen: FakeOllamaModel = { name: 'qwen2.5vl:3b', family: 'qwen25vl', sizeBytes: 3_200_000_000, quantization: 'Q8_0', contextLength: 8192, capabilities: ['completion', 'vision', 'thinking'] };
const embed: FakeOllamaModel = { name: 'nomic-embed-text:latest', family: 'nomic-bert', contextLength: 2048, capabilities: ['embedding'] };

describe('ollama backend: listing', () => {
  it('merges /api/tags, /api/ps and /api/show: loaded, window (capped), size, quantization, capabilities, memory; embedding models left out', async () => {
    const server = await serve([llama, qwen, embed]);
    const backend = backendFor(server.url);
    expect(await backend.listModels()).toEqual([
      {
        id: 'llama3.2:latest',
        loaded: true,
        contextLength: 32_768,
        sizeBytes: 2_019_393_189,
        quantization: 'Q4_K_M',
        capabilities: ['chat', 'tools'],
        architecture: { kvBytesPerElement: 2, layers: 28, heads: 24, kvHeads: 8, embeddingSize: 3072 },
        memoryBytes: 2_019_393_189,
        vramBytes: 1_500_000_000,
        // The manifest's digest: the same on another Ollama makes it a replica (test/load-ollama-replicas.test.ts).
        artifact: `sha256:${ollamaDigest(llama)}`,
      },
      { id: 'qwen2.5vl:3b', loaded: false, contextLength: 8192, sizeBytes: 3_200_000_000, quantization: 'Q8_0', capabilities: ['chat', 'vision', 'reasoning'], artifact: `sha256:${ollamaDigest(qwen)}` },
    ]);
    await backend.listModels();
    // Details are asked once per model (and digest), not on every listing.
    expect(server.seen.filter((s) => s === 'POST /api/show')).toHaveLength(3);
    expect(server.seen.filter((s) => s === 'GET /api/tags')).toHaveLength(2);
  });

  it('an Ollama without /api/ps still lists its models, none known to be loaded', async () => {
    const server = await serve([llama], { withoutPs: true });
    const [model] = await backendFor(server.url).listModels();
    expect(model).toMatchObject({ id: 'llama3.2:latest', loaded: false });
  });
});

describe('ollama backend: chat', () => {
  it('streams NDJSON deltas, then done with usage; num_ctx is the budget Mai chose', async () => {
    const server = await serve([{ ...llama, reply: 'Hello from Ollama.', chunks: 3 }]);
    const messages: ChatMessage[] = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Say hello.' },
    ];
    const result = await drain(backendFor(server.url), { model: 'llama3.2:latest', messages, contextSize: 8192, maxTokens: 100, temperature: 0.3, promptTokens: estimateMessages(messages) });
    expect(result.error).toBeUndefined();
    expect(result.deltas).toHaveLength(3);
    expect(result.deltas.join('')).toBe('Hello from Ollama.');
    expect(result.done).toEqual({ type: 'done', finishReason: 'stop', usage: { promptTokens: ollamaTokens('Be brief.') + ollamaTokens('Say hello.'), completionTokens: 3 } });
    expect(server.chats[0]).toMatchObject({ model: 'llama3.2:latest', messages, stream: true, options: { num_ctx: 8192, num_predict: 100, temperature: 0.3 } });
  });

  it('says finishReason length when num_predict stops the answer', async () => {
    const server = await serve([{ ...llama, reply: 'a long long answer', chunks: 6 }]);
    const result = await drain(backendFor(server.url), { model: 'llama3.2:latest', messages: hello, maxTokens: 2 });
    expect(result.deltas).toHaveLength(2);
    expect(result.done?.finishReason).toBe('length');
  });

  it('waits through a slow model load (Ollama loads before its first line), then the model shows as loaded', async () => {
    const server = await serve([{ ...qwen, loadDelayMs: 300, reply: 'loaded and answering' }]);
    const backend = backendFor(server.url);
    expect((await backend.listModels())[0]?.loaded).toBe(false);
    const result = await drain(backend, { model: 'qwen2.5vl:3b', messages: hello, contextSize: 4096 });
    expect(result.deltas.join('')).toBe('loaded and answering');
    expect(result.done?.type).toBe('done');
    expect((await backend.listModels())[0]?.loaded).toBe(true);
  });

  it('aborting the signal mid-stream ends it as cancelled and closes the connection', async () => {
    const server = await serve([{ ...llama, reply: 'one two three four five six', chunks: 6, chunkDelayMs: 60 }]);
    const controller = new AbortController();
    const result = await drain(backendFor(server.url), { model: 'llama3.2:latest', messages: hello, signal: controller.signal }, () => controller.abort());
    expect(result.deltas.length).toBeGreaterThanOrEqual(1);
    expect(result.deltas.length).toBeLessThan(6);
    expect(result.error?.code).toBe('cancelled');
    await until(() => server.chats[0]?.clientClosed === true);
  });

  it('load is an empty chat (with num_ctx), unload an empty chat with keep_alive 0; /api/ps follows', async () => {
    const server = await serve([qwen]);
    const backend = backendFor(server.url, { keepAlive: '10m' });
    await backend.load('qwen2.5vl:3b', { contextSize: 8192 });
    expect(server.chats[0]).toEqual({ model: 'qwen2.5vl:3b', messages: [], stream: false, options: { num_ctx: 8192 }, keep_alive: '10m' });
    expect((await backend.listModels())[0]?.loaded).toBe(true);
    await backend.unload('qwen2.5vl:3b');
    expect(server.chats[1]).toEqual({ model: 'qwen2.5vl:3b', messages: [], stream: false, keep_alive: 0 });
    expect((await backend.listModels())[0]?.loaded).toBe(false);
    expect((await failure(backend.load('missing:latest'))).code).toBe('model-not-found');
  });
});

describe('ollama backend: silent truncation is a context overflow', () => {
  const history = (turns: number): ChatMessage[] => [
    { role: 'system', content: 'You are a careful assistant.' },
    ...Array.from({ length: turns }, (_, i): ChatMessage => ({ role: i % 2 ? 'assistant' : 'user', content: `Turn ${i}: ${'words and more words '.repeat(12)}` })),
    { role: 'user', content: 'And now?' },
  ];

  it('a prompt over num_ctx answered 200 (older messages dropped) fails with context-overflow, after the text streamed', async () => {
    const server = await serve([{ ...llama, reply: 'I lost the start.' }]);
    // Mai's budget keeps permanent messages and the latest turn even when they pass the window.
    const messages = history(20);
    const result = await drain(backendFor(server.url), { model: 'llama3.2:latest', messages, contextSize: 512, promptTokens: estimateMessages(messages) });
    expect(server.chats[0]?.evaluated).toBeLessThanOrEqual(512);
    expect(result.deltas.join('')).toBe('I lost the start.');
    expect(result.done).toBeUndefined();
    expect(result.error?.code).toBe('context-overflow');
    expect(result.error?.data).toMatchObject({ promptTokens: estimateMessages(messages), evaluatedTokens: server.chats[0]?.evaluated, contextSize: 512 });
  });

  it('one message longer than the window is cut to num_ctx by the runner: also an overflow', async () => {
    const server = await serve([llama]);
    const messages: ChatMessage[] = [{ role: 'user', content: 'x'.repeat(4000) }];
    const result = await drain(backendFor(server.url), { model: 'llama3.2:latest', messages, contextSize: 256, promptTokens: estimateMessages(messages) });
    expect(server.chats[0]?.evaluated).toBe(256);
    expect(result.error?.code).toBe('context-overflow');
  });

  it('no false alarm when the real tokenizer simply counts fewer tokens than Mai estimates', async () => {
    const server = await serve([llama]);
    const messages = history(10);
    const result = await drain(backendFor(server.url), { model: 'llama3.2:latest', messages, contextSize: 8192, promptTokens: estimateMessages(messages) });
    // Nothing was dropped: the model read every message, by its own (real) tokenizer's count.
    expect(server.chats[0]?.evaluated).toBe(messages.reduce((n, m) => n + ollamaTokens(m.content), 0));
    expect(result.error).toBeUndefined();
    expect(result.done?.type).toBe('done');
  });

  it('the rule: tolerance below the estimate, or the window filled exactly', () => {
    const check = (sentTokens: number | undefined, evaluatedTokens: number | undefined, contextSize?: number) =>
      promptWasTruncated({ sentTokens, evaluatedTokens, contextSize, tolerance: 0.6 });
    expect(check(1000, 700, 4096)).toBe(false); // a tokenizer 30% under the estimate
    expect(check(1000, 500, 4096)).toBe(true); // half the prompt missing
    expect(check(40, 10, 4096)).toBe(false); // too small to judge
    expect(check(900, 1024, 1024)).toBe(true); // cut to the window
    expect(check(1000, undefined, 4096)).toBe(false); // no count (old versions on a cache hit)
    expect(check(undefined, 200, 4096)).toBe(false);
  });
});

describe('ollama backend: every error kind from its real cause', () => {
  it('unreachable: nothing listens on the port', async () => {
    const backend = backendFor(`http://127.0.0.1:${await closedPort()}`);
    expect((await failure(backend.listModels())).code).toBe('unreachable');
    expect((await drain(backend, { model: 'llama3.2:latest', messages: hello })).error?.code).toBe('unreachable');
    const health = await backend.health();
    expect(health.reachable).toBe(false);
    expect(health.error).toMatch(/ECONNREFUSED/);
  });

  it('timeout: the server never answers', async () => {
    const server = await serve([{ ...llama, behaviour: { kind: 'hang' } }]);
    const result = await drain(backendFor(server.url, { requestTimeoutMs: 300 }), { model: 'llama3.2:latest', messages: hello });
    expect(result.error?.code).toBe('timeout');
    expect(result.error?.message).toMatch(/did not answer POST \/api\/chat within 300 ms/);
  });

  it('timeout while listing: a server that starts too slowly for the catalogue', async () => {
    const server = await serve([llama], { startDelayMs: 2_000 });
    const error = await failure(backendFor(server.url, { requestTimeoutMs: 200 }).listModels());
    expect(error.code).toBe('timeout');
  });

  it('rate-limited: 429 with Retry-After', async () => {
    const server = await serve([{ ...llama, behaviour: { kind: 'status', status: 429, error: 'too many requests', retryAfter: '3' } }]);
    const result = await drain(backendFor(server.url), { model: 'llama3.2:latest', messages: hello });
    expect(result.error?.code).toBe('rate-limited');
    expect(result.error?.data?.retryAfterMs).toBe(3000);
  });

  it('context-overflow: a 400 saying the input exceeds the context length', async () => {
    const server = await serve([{ ...llama, behaviour: { kind: 'status', status: 400, error: 'the input length exceeds the context length' } }]);
    expect((await drain(backendFor(server.url), { model: 'llama3.2:latest', messages: hello })).error?.code).toBe('context-overflow');
  });

  it("model-not-found: 404 {error: \"model 'x' not found\"}", async () => {
    const server = await serve([llama]);
    const result = await drain(backendFor(server.url), { model: 'nope:7b', messages: hello });
    expect(result.error?.code).toBe('model-not-found');
    expect(result.error?.message).toMatch(/model 'nope:7b' not found/);
  });

  it('server-error: a 500, and an {"error": …} line in the middle of the stream', async () => {
    const server = await serve([
      { ...llama, queue: [{ kind: 'status', status: 500, error: 'llama runner process has terminated: exit status 2' }, { kind: 'stream-error', afterChunks: 1, error: 'an error was encountered while running the model' }] },
    ]);
    const backend = backendFor(server.url);
    const first = await drain(backend, { model: 'llama3.2:latest', messages: hello });
    expect(first.error?.code).toBe('server-error');
    expect(first.error?.message).toMatch(/runner process has terminated/);
    const second = await drain(backend, { model: 'llama3.2:latest', messages: hello });
    expect(second.deltas.length).toBe(1);
    expect(second.error?.code).toBe('server-error');
    expect(second.error?.message).toMatch(/an error was encountered while running the model/);
  });

  it('stream-cut: the socket destroyed mid-stream, and a stream that ends without its done line', async () => {
    const server = await serve([{ ...llama, reply: 'abcdefgh', queue: [{ kind: 'cut', afterChunks: 2 }, { kind: 'no-done' }] }]);
    const backend = backendFor(server.url);
    const cut = await drain(backend, { model: 'llama3.2:latest', messages: hello });
    expect(cut.deltas.join('')).toBe('abcd');
    expect(cut.error?.code).toBe('stream-cut');
    const unfinished = await drain(backend, { model: 'llama3.2:latest', messages: hello });
    expect(unfinished.deltas.join('')).toBe('abcdefgh');
    expect(unfinished.error?.code).toBe('stream-cut');
  });

  it('bad-request: a malformed request (no model name) is a 400, not retried', async () => {
    const server = await serve([llama]);
    const result = await drain(backendFor(server.url), { model: '', messages: hello });
    expect(result.error?.code).toBe('bad-request');
    expect(result.error?.retryable).toBe(false);
    expect(result.error?.message).toMatch(/model is required/);
  });
});
