/**
 * The gguf backend with the real node-llama-cpp and the demo models the project's writer makes:
 * listing with header metadata, real tokens streamed (random weights, so noise — but real
 * tokens), usage, maxTokens, abort mid-generation, context overflow before generating,
 * token counting, load/unload, and what happens without node-llama-cpp. And the demo models never
 * answer with nothing.
 */
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChatHistoryItem, Token } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, MaiError } from '../core/errors.ts';
import { createLogger } from '../core/log.ts';
import type { ChatChunk, ChatRequest } from '../core/types.ts';
import { GgufBackend } from '../plugins/backends/gguf-backend.ts';
import { GgufBackendOptions } from '../plugins/backends/gguf.ts';
import { DEMO_MODELS } from '../scripts/gguf/index.js';
import { SpecialTokens } from '../scripts/gguf/vocabulary.js';
import { putDemoModels } from './support/demo-models.ts';
import { tempDir, type TempDir } from './support/harness.ts';

/** What the backend logs (info): each load names the chat format node-llama-cpp matched to the file's template. */
const logged: string[] = [];
const log = createLogger('test', 'info', (text) => void logged.push(text));
/** The first load imports node-llama-cpp and its native library: slow on a busy 2-core machine. */
const LOADING = { timeout: 120_000 };
let dir: TempDir;
let backend: GgufBackend;

function makeBackend(options: Record<string, unknown> = {}): GgufBackend {
  const parsed = GgufBackendOptions.parse({ folders: ['./models'], lmStudioFolders: [], ollamaFolders: [], threads: 1, seed: 11, ...options });
  return new GgufBackend('gguf', parsed, { baseDir: dir.path, env: {}, log });
}

function request(overrides: Partial<ChatRequest> = {}): ChatRequest {
  return {
    model: 'mai-demo-small',
    messages: [
      { role: 'system', content: 'You are a helpful assistant.' },
      { role: 'user', content: 'Tell me about the river and the sea.' },
    ],
    maxTokens: 64,
    contextSize: 1024,
    signal: new AbortController().signal,
    ...overrides,
  };
}

async function collect(stream: AsyncIterable<ChatChunk>, onDelta?: (text: string, count: number) => void): Promise<ChatChunk[]> {
  const chunks: ChatChunk[] = [];
  for await (const chunk of stream) {
    chunks.push(chunk);
    if (chunk.type === 'delta') onDelta?.(chunk.text, chunks.length);
  }
  return chunks;
}

beforeAll(async () => {
  dir = await tempDir('mai-gguf-backend-');
  await putDemoModels(join(dir.path, 'models'));
  backend = makeBackend();
});
afterAll(async () => {
  await backend?.close();
  await dir.cleanup();
});

describe('gguf backend with node-llama-cpp', () => {
  it('lists the demo models with what their headers say, not loaded', async () => {
    const models = await backend.listModels();
    expect(models.map((m) => m.id).sort()).toEqual(['mai-demo-large', 'mai-demo-small']);
    for (const spec of DEMO_MODELS) {
      const model = models.find((m) => m.id === spec.id)!;
      expect(model).toMatchObject({
        loaded: false,
        contextLength: spec.contextLength,
        sizeBytes: (await stat(join(dir.path, 'models', `${spec.id}.gguf`))).size,
        quantization: spec.tensorType,
        architecture: { layers: spec.layers, heads: spec.heads, kvHeads: spec.kvHeads, embeddingSize: spec.embedding, kvBytesPerElement: 2 },
      });
    }
    expect(await backend.health()).toEqual({ reachable: true });
  });

  it('loads on the first chat and streams real tokens, ending with done and usage', LOADING, async () => {
    const chunks = await collect(backend.chat(request()));
    const deltas = chunks.filter((c) => c.type === 'delta');
    const done = chunks.at(-1);
    expect(deltas.length).toBeGreaterThan(0);
    expect(deltas.map((d) => d.text).join('').trim()).not.toBe('');
    expect(chunks.filter((c) => c.type === 'done')).toHaveLength(1);
    expect(done?.type).toBe('done');
    if (done?.type !== 'done') return;
    expect(['stop', 'length']).toContain(done.finishReason);
    expect(done.usage?.promptTokens).toBeGreaterThan(10);
    expect(done.usage?.completionTokens).toBeGreaterThan(0);
    expect(done.usage?.completionTokens).toBeLessThanOrEqual(64);
    const listed = (await backend.listModels()).find((m) => m.id === 'mai-demo-small');
    expect(listed?.loaded).toBe(true);
    expect(listed?.memoryBytes).toBeGreaterThan(0);
    // The demo models' ChatML template is recognised as ChatML (their name says so: scripts/gguf/tiny-llama.js).
    expect(logged.join('')).toMatch(/loaded mai-demo-small in \d+ ms \(ChatML chat format\)/);
  });

  it('stops at maxTokens with finishReason length', async () => {
    // Greedy decoding: the demo models never choose the end-of-turn token then.
    const chunks = await collect(backend.chat(request({ maxTokens: 5, temperature: 0 })));
    const done = chunks.at(-1);
    expect(done).toEqual({ type: 'done', finishReason: 'length', usage: { promptTokens: expect.any(Number), completionTokens: 5 } });
  });

  it('stops when aborted mid-generation, with a cancelled error', LOADING, async () => {
    const controller = new AbortController();
    const seen: string[] = [];
    const error = await collect(backend.chat(request({ model: 'mai-demo-large', maxTokens: 2000, contextSize: 4096, temperature: 0, signal: controller.signal })), (text) => {
      seen.push(text);
      if (seen.length === 3) controller.abort();
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MaiError);
    expect((error as MaiError).code).toBe(ErrorCodes.cancelled);
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(seen.length).toBeLessThan(100);
    // The model is free again: the next turn runs.
    const next = await collect(backend.chat(request({ model: 'mai-demo-large', maxTokens: 8 })));
    expect(next.at(-1)?.type).toBe('done');
  });

  it('refuses a prompt that does not fit the context, before generating (no silent context shift)', async () => {
    const long = 'the river and the sea '.repeat(40);
    const chunks: ChatChunk[] = [];
    const error = await (async () => {
      for await (const chunk of backend.chat(request({ contextSize: 64, messages: [{ role: 'user', content: long }] }))) chunks.push(chunk);
    })().then(
      () => null,
      (e: unknown) => e,
    );
    expect(chunks).toEqual([]);
    expect(error).toBeInstanceOf(MaiError);
    expect((error as MaiError).code).toBe(ErrorCodes.contextOverflow);
    expect((error as MaiError).retryable).toBe(true);
    expect((error as MaiError).message).toMatch(/does not fit a 64-token context/);
  });

  it('caps the reply to the room the context has left', async () => {
    const chunks = await collect(backend.chat(request({ contextSize: 80, maxTokens: 500, temperature: 0 })));
    const done = chunks.at(-1);
    expect(done?.type).toBe('done');
    if (done?.type !== 'done') return;
    expect(done.finishReason).toBe('length');
    expect(done.usage!.promptTokens + done.usage!.completionTokens).toBeLessThan(80);
  });

  it("sizes the KV cache to the turn, not to Mai's whole budget", async () => {
    const chunks = await collect(backend.chat(request({ contextSize: 1_048_576, maxTokens: 16 })));
    expect(chunks.at(-1)?.type).toBe('done');
    const listed = (await backend.listModels()).find((m) => m.id === 'mai-demo-small');
    // A million-token context would hold gigabytes; the turn needed ~100 tokens.
    expect(listed?.memoryBytes).toBeLessThan(64 * 1024 * 1024);
  });

  it('counts tokens with the model tokenizer, loaded or not', LOADING, async () => {
    const text = 'the river and the sea, with the boat';
    const unloadedCount = await backend.countTokens('mai-demo-large', text);
    await backend.load('mai-demo-large');
    const loadedCount = await backend.countTokens('mai-demo-large', text);
    expect(unloadedCount).toBe(loadedCount);
    // Common English words are one token each; unknown bytes fall back to one token per byte.
    expect(loadedCount).toBeLessThan(text.length / 2);
    expect(await backend.countTokens('mai-demo-large', 'ÿÿÿ')).toBeGreaterThanOrEqual(6);
  });

  it('unloads on request and loads again on the next chat', LOADING, async () => {
    await backend.load('mai-demo-small', { contextSize: 512 });
    expect((await backend.listModels()).find((m) => m.id === 'mai-demo-small')?.loaded).toBe(true);
    await backend.unload('mai-demo-small');
    expect((await backend.listModels()).find((m) => m.id === 'mai-demo-small')?.loaded).toBe(false);
    const chunks = await collect(backend.chat(request({ maxTokens: 6 })));
    expect(chunks.at(-1)?.type).toBe('done');
    expect((await backend.listModels()).find((m) => m.id === 'mai-demo-small')?.loaded).toBe(true);
  });

  it('stops a generation when its model is unloaded, with a retryable error', LOADING, async () => {
    let unloading: Promise<void> | null = null;
    const error = await collect(backend.chat(request({ maxTokens: 2000, contextSize: 4096, temperature: 0 })), (_text, count) => {
      if (count === 2) unloading = backend.unload('mai-demo-small');
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(unloading).not.toBeNull();
    await unloading;
    expect(error).toBeInstanceOf(MaiError);
    expect(error).toMatchObject({ code: ErrorCodes.serverError, retryable: true, message: expect.stringContaining('was unloaded while it was answering') });
    expect((await backend.listModels()).find((m) => m.id === 'mai-demo-small')?.loaded).toBe(false);
  });

  // A preload and a turn share one load of a model. The load has its own signal: the preload giving up (cancelled,
  // timed out) no longer fails the turn waiting for the same load; a load nobody waits for is cancelled.
  it('keeps loading for a turn when the preload it shares the load with gives up', LOADING, async () => {
    await backend.unload('mai-demo-small');
    const preload = new AbortController();
    const preloading = backend.load('mai-demo-small', { contextSize: 512, signal: preload.signal });
    const answering = collect(backend.chat(request({ maxTokens: 4 })));
    preload.abort(new Error('the preload was cancelled'));
    await expect(preloading).rejects.toMatchObject({ code: ErrorCodes.cancelled });
    const chunks = await answering;
    expect(chunks.at(-1)).toMatchObject({ type: 'done', usage: { completionTokens: expect.any(Number) } });
    expect((await backend.listModels()).find((m) => m.id === 'mai-demo-small')?.loaded).toBe(true);
  });

  it('cancels a load nobody waits for any more, and loads anew for the next caller', LOADING, async () => {
    await backend.unload('mai-demo-small');
    const gaveUp = new AbortController();
    const loading = backend.load('mai-demo-small', { contextSize: 512, signal: gaveUp.signal });
    gaveUp.abort();
    await expect(loading).rejects.toMatchObject({ code: ErrorCodes.cancelled });
    expect((await backend.listModels()).find((m) => m.id === 'mai-demo-small')?.loaded).toBe(false);
    await backend.load('mai-demo-small', { contextSize: 512 });
    expect((await backend.listModels()).find((m) => m.id === 'mai-demo-small')?.loaded).toBe(true);
  });

  it('runs two turns for one model one after the other', async () => {
    const [a, b] = await Promise.all([collect(backend.chat(request({ maxTokens: 10 }))), collect(backend.chat(request({ maxTokens: 10 })))]);
    expect(a.at(-1)?.type).toBe('done');
    expect(b.at(-1)?.type).toBe('done');
  });

  it('says a model it does not have is not found', async () => {
    await expect(collect(backend.chat(request({ model: 'no-such-model' })))).rejects.toMatchObject({ code: ErrorCodes.modelNotFound });
  });
});

/** The demo's conversation as it stands before an answer (the models' answers are noise like these). */
const demoConversations: ChatHistoryItem[][] = [
  [{ type: 'user', text: 'Hello, Mai. Always answer briefly.' }],
  [
    { type: 'system', text: 'You are terse.' },
    { type: 'user', text: 'Hello, Mai. Always answer briefly.' },
    { type: 'model', response: [' river home far sea, word light.'] },
    { type: 'user', text: 'Are you there?' },
    { type: 'model', response: [' small give him people half drive'] },
    { type: 'user', text: 'And now from another model?' },
  ],
];

// Their weights are random and they end a turn by themselves now and then (`<|im_end|>`), but never at an
// answer's first token: an empty reply is a failure Mai answers with the next model, so the demo's pinned turn on
// mai-demo-small came from mai-demo-large in a CI run (the small model ended ~1.4% of its answers there). Read off
// node-llama-cpp's probabilities for the first token after prompts rendered as Mai renders them (the ChatML format
// node-llama-cpp matches to the file): nothing is sampled.
// The backend's own Llama (the native library, loaded once): a getLlama of the test's own started another
// Node (or Deno) process to test the binding first, ~0.7 CPU-s, to load the same library again.
describe('the demo models', () => {
  for (const spec of DEMO_MODELS) {
    it(`${spec.id} never ends an answer at its first token`, LOADING, async () => {
      const { resolveChatWrapper } = await import('node-llama-cpp');
      const llama = await backend['runtime'].instance();
      const model = await llama.loadModel({ modelPath: join(dir.path, 'models', `${spec.id}.gguf`) });
      try {
        const context = await model.createContext({ contextSize: 512, threads: 1, sequences: 1 });
        const sequence = context.getSequence();
        const wrapper = resolveChatWrapper(model);
        expect(wrapper.wrapperName).toBe('ChatML');
        for (const history of demoConversations) {
          const { contextText } = wrapper.generateContextState({ chatHistory: [...history, { type: 'model', response: [] }] });
          // The generator would go on sampling: the first token's probabilities are all this needs.
          const evaluation = sequence.evaluateWithMetadata(contextText.tokenize(model.tokenizer), { probabilities: true }, { temperature: 0.7 });
          const first = await evaluation.next();
          await evaluation.return();
          if (first.done) throw new Error(`${spec.id} evaluated nothing`);
          const { probabilities } = first.value;
          const probability = (token: number) => probabilities.get(token as Token) ?? 0;
          const ending = probability(SpecialTokens.imEnd) + probability(SpecialTokens.eos);
          expect(ending, `${spec.id}: the chance its answer ends at the first token`).toBeLessThan(1e-6);
          // Not a model that cannot speak: its likeliest first token is a word.
          const [likeliest] = probabilities.keys();
          expect(model.detokenize([likeliest!], true)).toMatch(/^\s?[a-z]/);
          await sequence.clearHistory();
        }
        await context.dispose();
      } finally {
        await model.dispose();
      }
    });
  }
});

describe('gguf backend without node-llama-cpp', () => {
  it('lists its files but says they cannot run and how to install it (unusable, health, chat), and does not crash', async () => {
    const missing = makeBackend({ moduleName: 'node-llama-cpp-that-is-not-installed' });
    const install = 'npm install node-llama-cpp@3.21.1';
    expect(await missing.listModels()).toHaveLength(2);
    expect(missing.unusable()).toMatch(/^GGUF models need node-llama-cpp, which is not installed\. Install it next to Mai with `npm install node-llama-cpp@3\.21\.1`/);
    const health = await missing.health();
    expect(health.reachable).toBe(false);
    expect(health.error).toContain(install);
    await expect(collect(missing.chat(request()))).rejects.toMatchObject({ code: ErrorCodes.unreachable, message: expect.stringContaining(install) });
    await missing.close();
  });

  it('reports a node-llama-cpp whose native library will not load, and then calls itself unusable', LOADING, async () => {
    const pkg = join(dir.path, 'node_modules', 'broken-llama');
    await mkdir(pkg, { recursive: true });
    await writeFile(join(pkg, 'package.json'), JSON.stringify({ name: 'broken-llama', type: 'module', main: 'index.js' }));
    await writeFile(
      join(pkg, 'index.js'),
      "export const LlamaLogLevel = { warn: 'warn' };\n" +
        "export class LlamaChat {}\n" +
        "export async function getLlama() { throw new Error('libllama.so: cannot open shared object file'); }\n",
    );
    const broken = makeBackend({ moduleName: 'broken-llama' });
    // Found on disk, so its files are listed until a load shows it cannot run.
    expect(await broken.listModels()).toHaveLength(2);
    await expect(collect(broken.chat(request()))).rejects.toMatchObject({
      code: ErrorCodes.unreachable,
      message: expect.stringMatching(/native library failed to load: libllama\.so: cannot open shared object file.*npm install node-llama-cpp@3\.21\.1/),
    });
    // The fix for a machine no prebuilt binary fits: build llama.cpp, where that node-llama-cpp is installed.
    expect(broken.unusable()).toContain(`\`npx --no node-llama-cpp source download\` in ${dir.path} (it needs CMake and a C++ compiler)`);
    expect(await broken.listModels()).toHaveLength(2);
    expect(broken.unusable()).toMatch(/native library failed to load: libllama\.so/);
    expect((await broken.health()).reachable).toBe(false);
    await broken.close();
  });
});
