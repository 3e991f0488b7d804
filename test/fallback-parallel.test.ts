/**
 * fallback.parallelPerModel: how many turns one model answers at once. At the default (1) Mai
 * queues a model's turns and sends them one at a time — right for a server with one slot. Raised,
 * Mai sends that many at once, so a server that serves requests in parallel (llama.cpp
 * --parallel, OLLAMA_NUM_PARALLEL, vLLM) is used fully; turns beyond it still wait in Mai's queue.
 * Checked at a real OpenAI-compatible server on 127.0.0.1 that counts the requests it is answering.
 */
import { describe, expect, it } from 'vitest';
import { useScene } from './support/scene.ts';

const config = (baseURL: string, fallback = '') => `
backends: [{ use: openai, name: loop, options: { baseURL: "${baseURL}", llamaCppExtras: false } }]
scorers: [{ use: context-fit }]
${fallback}
context: { stateDir: ./state, summary: digest }
`;

describe('fallback.parallelPerModel', () => {
  const scene = useScene();

  /** Six turns at once; what the server saw at the most at once, and every answer. */
  async function sixAtOnce(fallback: string): Promise<{ max: number; texts: string[] }> {
    // Each answer takes ~160 ms (4 chunks, 40 ms apart), so turns sent together overlap at the server.
    const server = await scene.openai([{ id: 'm', reply: (messages) => `answer to ${messages.at(-1)?.content}`, chunks: 4, chunkDelayMs: 40 }]);
    const mai = await scene.mai(config(server.baseURL, fallback));
    const results = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => mai.chat({ message: `turn ${i}` })));
    return { max: server.concurrency.max, texts: results.map((r) => r.text) };
  }

  it('by default, a model answers one turn at a time: the others wait in Mai', async () => {
    const { max, texts } = await sixAtOnce('');
    expect(max).toBe(1);
    expect(texts).toEqual([1, 2, 3, 4, 5, 6].map((i) => `answer to turn ${i}`));
  });

  it('raised to 3, three turns are at the server at once, never more', async () => {
    const { max, texts } = await sixAtOnce('fallback: { parallelPerModel: 3 }');
    expect(max).toBe(3);
    expect(texts).toEqual([1, 2, 3, 4, 5, 6].map((i) => `answer to turn ${i}`));
  });

  it('a value that is not a whole number of at least 1 is a config error naming the key', async () => {
    const server = await scene.openai([{ id: 'm' }]);
    await expect(scene.mai(config(server.baseURL, 'fallback: { parallelPerModel: 0 }'))).rejects.toThrow(/fallback\.parallelPerModel: expected a number > 0, got 0/);
  });
});
