/**
 * The lmstudio backend against a real HTTP server on loopback speaking LM Studio's REST API (v1,
 * or v0 as before 0.4) and its OpenAI-compatible chat: listing, streaming, loading with Mai's
 * window, load/unload, starting a stopped server with a real `lms` process on PATH, and every
 * error kind produced by its real cause.
 */
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../core/types.ts';
import { LMStudioBackend, LMStudioBackendOptions } from '../plugins/backends/lmstudio.ts';
import { drain, failure, until } from './support/backend-helpers.ts';
import { tempDir, type TempDir } from './support/harness.ts';
import { lmsTokens, startLmStudioServer, type FakeLmsModel, type FakeLmStudioServer, type LmsServerOptions } from './support/lmstudio-server.ts';
import { closedPort } from './support/openai-server.ts';

const servers: FakeLmStudioServer[] = [];
const dirs: TempDir[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await Promise.all(dirs.splice(0).map((d) => d.cleanup()));
});

async function serve(models: FakeLmsModel[], options?: LmsServerOptions): Promise<FakeLmStudioServer> {
  const server = await startLmStudioServer(models, options);
  servers.push(server);
  return server;
}

const backendFor = (url: string, options: Partial<LMStudioBackendOptions> = {}, env: Record<string, string | undefined> = {}) =>
  new LMStudioBackend('lms', LMStudioBackendOptions.parse({ baseURL: url, ...options }), undefined, env);
const hello: ChatMessage[] = [{ role: 'user', content: 'Say hello.' }];

const qwen: FakeLmsModel = { key: 'qwen3-4b', quantization: 'Q4_K_M', bitsPerWeight: 4, sizeBytes: 2_497_280_000, maxContextLength: 40_960, tools: true, instances: [{ id: 'qwen3-4b', contextLength: 8192 }] };
const gemma: FakeLmsModel = { key: 'gemma-3-12b', quantization: 'Q8_0', bitsPerWeight: 8, sizeBytes: 12_500_000_000, maxContextLength: 131_072, vision: true };
const nomic: FakeLmsModel = { key: 'text-embedding-nomic-embed-text-v1.5', type: 'embedding', maxContextLength: 2048 };

describe('lmstudio backend: listing', () => {
  it('reads /api/v1/models: loaded instances and their window, max window (capped), quantization, size, capabilities; no embedding models', async () => {
    const server = await serve([qwen, gemma, nomic]);
    expect(await backendFor(server.url).listModels()).toEqual([
      { id: 'qwen3-4b', loaded: true, contextLength: 8192, sizeBytes: 2_497_280_000, quantization: 'Q4_K_M', capabilities: ['chat', 'tools'] },
      { id: 'gemma-3-12b', loaded: false, contextLength: 32_768, sizeBytes: 12_500_000_000, quantization: 'Q8_0', capabilities: ['chat', 'vision'] },
    ]);
  });

  it('falls back to /api/v0/models (state: loaded | not-loaded) on an LM Studio before 0.4, and stays there', async () => {
    const server = await serve([qwen, gemma, nomic], { api: 'v0' });
    const backend = backendFor(server.url);
    expect(await backend.listModels()).toEqual([
      { id: 'qwen3-4b', loaded: true, contextLength: 32_768, quantization: 'Q4_K_M', capabilities: ['chat', 'tools'] },
      { id: 'gemma-3-12b', loaded: false, contextLength: 32_768, quantization: 'Q8_0', capabilities: ['chat', 'vision'] },
    ]);
    await backend.listModels();
    expect(server.seen.filter((s) => s === 'GET /api/v1/models')).toHaveLength(1);
    expect(server.seen.filter((s) => s === 'GET /api/v0/models')).toHaveLength(2);
    const load = await failure(backend.load('gemma-3-12b'));
    expect(load.code).toBe('bad-request');
    expect(load.retryable).toBe(false);
  });
});

describe('lmstudio backend: chat, load, unload', () => {
  it('streams through the OpenAI-compatible endpoint: deltas, then done with usage', async () => {
    const server = await serve([{ ...qwen, reply: 'Hello from LM Studio.', chunks: 3 }]);
    const backend = backendFor(server.url);
    await backend.listModels();
    const result = await drain(backend, { model: 'qwen3-4b', messages: hello, maxTokens: 50, contextSize: 8192 });
    expect(result.deltas).toHaveLength(3);
    expect(result.deltas.join('')).toBe('Hello from LM Studio.');
    expect(result.done).toEqual({ type: 'done', finishReason: 'stop', usage: { promptTokens: lmsTokens(hello), completionTokens: 3 } });
    expect(server.chats[0]).toMatchObject({ model: 'qwen3-4b', messages: hello, maxTokens: 50 });
    expect(server.loads).toHaveLength(0); // already loaded: no load
  });

  it("loads a model that is not loaded with Mai's window first, so a long prompt fits where LM Studio's default 4096 would not", async () => {
    const server = await serve([{ ...gemma, reply: 'Read it all.' }]);
    const backend = backendFor(server.url);
    await backend.listModels();
    const messages: ChatMessage[] = [{ role: 'user', content: 'Summarise this. '.repeat(2_000) }];
    expect(lmsTokens(messages)).toBeGreaterThan(4096);
    const result = await drain(backend, { model: 'gemma-3-12b', messages, contextSize: 16_384 });
    expect(result.error).toBeUndefined();
    expect(result.deltas.join('')).toBe('Read it all.');
    expect(server.loads).toEqual([{ model: 'gemma-3-12b', context_length: 16_384 }]);
    expect(server.seen.indexOf('POST /api/v1/models/load')).toBeLessThan(server.seen.indexOf('POST /v1/chat/completions'));
  });

  it('aborting the signal mid-stream ends it as cancelled and closes the connection', async () => {
    const server = await serve([{ ...qwen, reply: 'one two three four five six', chunks: 6, chunkDelayMs: 60 }]);
    const controller = new AbortController();
    const result = await drain(backendFor(server.url), { model: 'qwen3-4b', messages: hello, signal: controller.signal }, () => controller.abort());
    expect(result.deltas.length).toBeGreaterThanOrEqual(1);
    expect(result.deltas.length).toBeLessThan(6);
    expect(result.error?.code).toBe('cancelled');
    await until(() => server.chats[0]?.clientClosed === true);
  });

  it('load posts {model, context_length} to /api/v1/models/load; unload posts each {instance_id} to /unload', async () => {
    const server = await serve([qwen, gemma]);
    const backend = backendFor(server.url);
    await backend.load('gemma-3-12b', { contextSize: 8192 });
    expect(server.loads).toEqual([{ model: 'gemma-3-12b', context_length: 8192 }]);
    expect((await backend.listModels())[1]).toMatchObject({ id: 'gemma-3-12b', loaded: true, contextLength: 8192 });
    await backend.unload('gemma-3-12b');
    await backend.unload('qwen3-4b');
    expect(server.unloads).toEqual([{ instance_id: 'gemma-3-12b' }, { instance_id: 'qwen3-4b' }]);
    expect((await backend.listModels()).map((m) => m.loaded)).toEqual([false, false]);
  });
});

describe('lmstudio backend: starting a stopped server with `lms`', () => {
  /** A real `lms` executable on PATH that records its arguments (the test then plays the server). */
  async function fakeLms(): Promise<{ env: Record<string, string>; log: string }> {
    const dir = await tempDir('mai-lms-');
    dirs.push(dir);
    const log = join(dir.path, 'lms-calls.log');
    const script = join(dir.path, 'lms');
    await writeFile(script, '#!/bin/sh\nprintf \'%s\\n\' "$*" >> "$FAKE_LMS_LOG"\necho "Success! Server is now running on port $4"\n');
    await chmod(script, 0o755);
    return { env: { PATH: dir.path, FAKE_LMS_LOG: log }, log };
  }
  const calls = async (log: string) => (await readFile(log, 'utf8').catch(() => '')).trim().split('\n').filter(Boolean);

  it('runs `lms server start --port N` and waits until the (slow-starting) server answers', async () => {
    const port = await closedPort();
    const { env, log } = await fakeLms();
    const backend = backendFor(`http://127.0.0.1:${port}`, { startServer: true, startTimeoutMs: 10_000 }, env);
    const listing = backend.listModels();
    listing.catch(() => undefined); // awaited below; no unhandled rejection meanwhile
    const deadline = Date.now() + 5_000;
    while ((await calls(log)).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    // The server comes up a while after `lms` returned, as LM Studio's does.
    await new Promise((r) => setTimeout(r, 300));
    await serve([qwen], { port });
    expect((await listing).map((m) => m.id)).toEqual(['qwen3-4b']);
    expect(await calls(log)).toEqual([`server start --port ${port}`]);
  });

  it('gives up after startTimeoutMs when the server never answers, saying what it tried', async () => {
    const { env, log } = await fakeLms();
    const backend = backendFor(`http://127.0.0.1:${await closedPort()}`, { startServer: true, startTimeoutMs: 400 }, env);
    const error = await failure(backend.listModels());
    expect(error.code).toBe('unreachable');
    expect(error.message).toMatch(/ran `lms server start --port \d+`.*did not answer within 400 ms/);
    expect(await calls(log)).toHaveLength(1);
  });

  it('does not run lms unless startServer is true, and says so when lms is not on PATH', async () => {
    const { env, log } = await fakeLms();
    const off = await failure(backendFor(`http://127.0.0.1:${await closedPort()}`, {}, env).listModels());
    expect(off.code).toBe('unreachable');
    expect(await calls(log)).toEqual([]);
    const missing = await failure(backendFor(`http://127.0.0.1:${await closedPort()}`, { startServer: true }, { PATH: '/nonexistent' }).listModels());
    expect(missing.code).toBe('unreachable');
    expect(missing.message).toMatch(/`lms` is not on PATH/);
  });
});

describe('lmstudio backend: every error kind from its real cause', () => {
  it('unreachable: nothing listens on the port', async () => {
    const backend = backendFor(`http://127.0.0.1:${await closedPort()}`);
    expect((await failure(backend.listModels())).code).toBe('unreachable');
    expect((await drain(backend, { model: 'qwen3-4b', messages: hello })).error?.code).toBe('unreachable');
    expect((await backend.health()).reachable).toBe(false);
  });

  it('timeout: the server never answers the chat', async () => {
    const server = await serve([{ ...qwen, behaviour: { kind: 'hang' } }]);
    expect((await drain(backendFor(server.url, { requestTimeoutMs: 300 }), { model: 'qwen3-4b', messages: hello })).error?.code).toBe('timeout');
  });

  it('rate-limited: 429 with Retry-After', async () => {
    const server = await serve([{ ...qwen, behaviour: { kind: 'status', status: 429, retryAfter: '1' } }]);
    const result = await drain(backendFor(server.url), { model: 'qwen3-4b', messages: hello });
    expect(result.error?.code).toBe('rate-limited');
    expect(result.error?.data?.retryAfterMs).toBe(1000);
  });

  it("context-overflow: LM Studio's 400 for a prompt longer than the loaded window", async () => {
    const server = await serve([{ ...qwen, instances: [{ id: 'qwen3-4b', contextLength: 1024 }] }]);
    const result = await drain(backendFor(server.url), { model: 'qwen3-4b', messages: [{ role: 'user', content: 'many words '.repeat(1500) }] });
    expect(result.error?.code).toBe('context-overflow');
    expect(result.error?.message).toMatch(/Trying to keep the first \d+ tokens/);
  });

  it('model-not-found: chat with, and load of, a model LM Studio does not have', async () => {
    const server = await serve([qwen]);
    const backend = backendFor(server.url);
    expect((await drain(backend, { model: 'nope', messages: hello })).error?.code).toBe('model-not-found');
    expect((await failure(backend.load('nope'))).code).toBe('model-not-found');
  });

  it('server-error: a 500', async () => {
    const server = await serve([{ ...qwen, behaviour: { kind: 'status', status: 500, body: { error: 'Model crashed without additional information' } } }]);
    const result = await drain(backendFor(server.url), { model: 'qwen3-4b', messages: hello });
    expect(result.error?.code).toBe('server-error');
    expect(result.error?.message).toMatch(/Model crashed/);
  });

  it('stream-cut: the socket destroyed after two chunks', async () => {
    const server = await serve([{ ...qwen, reply: 'abcdefgh', behaviour: { kind: 'cut', afterChunks: 2 } }]);
    const result = await drain(backendFor(server.url), { model: 'qwen3-4b', messages: hello });
    expect(result.deltas.join('')).toBe('abcd');
    expect(result.error?.code).toBe('stream-cut');
  });

  it('bad-request: a malformed load (no model) is a 400 invalid_request, not retried', async () => {
    const server = await serve([qwen]);
    const error = await failure(backendFor(server.url).load(''));
    expect(error.code).toBe('bad-request');
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/"model" is required/);
  });
});
