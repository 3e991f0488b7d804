/**
 * The three HTTP backends together behind the Mai facade, each on its own real loopback server:
 * one conversation moves from a model on one backend to models on the others and each receives
 * the earlier history; with one backend down, models() lists the union of the others (marking
 * what is loaded) and status() reports the unreachable one without failing.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestMai, tempDir, type TempDir } from './support/harness.ts';
import { startLmStudioServer, type FakeLmStudioServer } from './support/lmstudio-server.ts';
import { startOllamaServer, type FakeOllamaServer } from './support/ollama-server.ts';
import { closedPort, startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';

let dir: TempDir;
let ollama: FakeOllamaServer;
let lmstudio: FakeLmStudioServer;
let openai: FakeOpenAIServer;

beforeEach(async () => {
  dir = await tempDir();
  ollama = await startOllamaServer([
    { name: 'llama3.2:latest', contextLength: 8192, loaded: true, sizeBytes: 2_000_000_000, reply: 'Paris is the capital.' },
    { name: 'qwen2.5:0.5b', contextLength: 32_768, sizeBytes: 400_000_000 },
  ]);
  lmstudio = await startLmStudioServer([
    { key: 'qwen3-4b', maxContextLength: 40_960, instances: [{ id: 'qwen3-4b', contextLength: 8192 }], reply: 'About two million people.' },
    { key: 'gemma-3-12b', maxContextLength: 131_072 },
  ]);
  openai = await startOpenAIServer([{ id: 'tiny.gguf', reply: 'Yes, quite big.' }], { llamaCpp: { nCtx: 4096 } });
});

afterEach(async () => {
  await Promise.all([ollama.close(), lmstudio.close(), openai.close()]);
  await dir.cleanup();
});

const config = (urls: { ollama: string; lmstudio: string; openai: string }) => `
backends:
  - use: ollama
    options: { baseURL: ${urls.ollama} }
  - use: lmstudio
    options: { baseURL: ${urls.lmstudio} }
  - use: openai
    name: llamacpp
    options: { baseURL: ${urls.openai} }
scorers:
  - use: context-fit
`;

describe('three HTTP backends behind one Mai', () => {
  it('one conversation moves from Ollama to LM Studio to llama.cpp, and each model receives the earlier history', async () => {
    const { mai } = await createTestMai(dir.path, config({ ollama: ollama.url, lmstudio: lmstudio.url, openai: openai.baseURL }));
    try {
      const first = await mai.chat({ message: 'What is the capital of France?', system: 'Answer briefly.', model: 'llama3.2:latest' });
      expect(first.model).toBe('llama3.2:latest');
      expect(first.text).toBe('Paris is the capital.');
      expect(first.attempts).toEqual([{ model: 'llama3.2:latest' }]);
      expect(ollama.chats[0]?.options?.num_ctx).toBe(8192);

      const second = await mai.chat({ message: 'How many people live there?', conversationId: first.conversationId, model: 'qwen3-4b' });
      expect(second.model).toBe('qwen3-4b');
      expect(second.text).toBe('About two million people.');
      expect(second.attempts).toEqual([{ model: 'qwen3-4b' }]);
      expect(lmstudio.chats[0]?.messages).toEqual([
        { role: 'system', content: 'Answer briefly.' },
        { role: 'user', content: 'What is the capital of France?' },
        { role: 'assistant', content: 'Paris is the capital.' },
        { role: 'user', content: 'How many people live there?' },
      ]);

      expect(await mai.switch('tiny.gguf')).toEqual({ pinned: 'tiny.gguf' });
      const third = await mai.chat({ message: 'Is that big?', conversationId: first.conversationId });
      expect(third.model).toBe('tiny.gguf');
      expect(third.attempts).toEqual([{ model: 'tiny.gguf' }]);
      expect(openai.requests[0]?.messages.map((m) => m.content)).toEqual([
        'Answer briefly.',
        'What is the capital of France?',
        'Paris is the capital.',
        'How many people live there?',
        'About two million people.',
        'Is that big?',
      ]);
      const stored = await mai.getConversation(first.conversationId);
      const answers = stored.messages.filter((m) => m.role === 'assistant').map((m) => m.model);
      expect(answers).toEqual(['llama3.2:latest', 'qwen3-4b', 'tiny.gguf']);
    } finally {
      await mai.close();
    }
  });

  it.each(['ollama', 'lmstudio', 'llamacpp'] as const)('with %s down: models() lists the union of the others, marks loaded, and status() reports the unreachable one', async (down) => {
    const dead = `http://127.0.0.1:${await closedPort()}`;
    const urls = {
      ollama: down === 'ollama' ? dead : ollama.url,
      lmstudio: down === 'lmstudio' ? dead : lmstudio.url,
      openai: down === 'llamacpp' ? `${dead}/v1` : openai.baseURL,
    };
    const { mai } = await createTestMai(dir.path, config(urls));
    try {
      const report = await mai.models();
      const expected: Record<string, Array<{ id: string; backend: string; loaded: boolean }>> = {
        ollama: [
          { id: 'llama3.2:latest', backend: 'ollama', loaded: true },
          { id: 'qwen2.5:0.5b', backend: 'ollama', loaded: false },
        ],
        lmstudio: [
          { id: 'qwen3-4b', backend: 'lmstudio', loaded: true },
          { id: 'gemma-3-12b', backend: 'lmstudio', loaded: false },
        ],
        llamacpp: [{ id: 'tiny.gguf', backend: 'llamacpp', loaded: true }],
      };
      const union = Object.entries(expected).flatMap(([backend, models]) => (backend === down ? [] : models));
      const listed = report.models.map((m) => ({ id: m.id, backend: m.backend, loaded: m.loaded }));
      expect(listed.sort((a, b) => a.id.localeCompare(b.id))).toEqual(union.sort((a, b) => a.id.localeCompare(b.id)));

      const status = mai.status();
      expect(status.backends.map((b) => b.name).sort()).toEqual(['llamacpp', 'lmstudio', 'ollama']);
      for (const backend of status.backends) {
        if (backend.name === down) {
          expect(backend.reachable).toBe(false);
          expect(backend.error).toMatch(/cannot be reached \(ECONNREFUSED\)/);
        } else {
          expect(backend).toMatchObject({ name: backend.name, reachable: true, host: 'local', local: true });
          expect(backend.error).toBeUndefined();
        }
      }
      // The down backend does not stop a turn: a model of the others answers.
      const turn = await mai.chat({ message: 'Hello?' });
      expect(union.map((m) => m.id)).toContain(turn.model);
    } finally {
      await mai.close();
    }
  });
});
