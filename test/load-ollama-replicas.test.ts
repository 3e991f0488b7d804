/**
 * Ollama replicas by digest (issue 14): two real loopback servers speaking Ollama's API
 * (/api/tags with digests, /api/ps, /api/show, streamed /api/chat) hold the same weights under
 * different tags. Mai lists them as one model with two replicas, asks each server by its own tag,
 * spreads a batch over both, and moves to the other one when one dies.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Mai } from '../core/mai.ts';
import { batch, LoadScene } from './support/load-scene.ts';
import { startOllamaServer, type FakeOllamaServer } from './support/ollama-server.ts';

const DIGEST = 'a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72';
const reply = (messages: Array<{ role: string; content: string }>) => `Answer to: ${messages.at(-1)?.content}.`;

const config = (a: FakeOllamaServer, b: FakeOllamaServer) => `backends:
  - { use: ollama, name: box-a, options: { baseURL: "${a.url}" } }
  - { use: ollama, name: box-b, options: { baseURL: "${b.url}" } }
load: { intervalMs: 100, timeoutMs: 500, staleMs: 1500 }
context: { stateDir: ./state, summary: digest }
fallback: { retries: 0 }
`;


const turns = (server: FakeOllamaServer) => server.chats.filter((c) => c.messages.length > 0);

describe('Ollama servers holding the same digest under different names', () => {
  const scene = new LoadScene();
  afterEach(() => scene.cleanup());

  async function twoBoxes(): Promise<{ a: FakeOllamaServer; b: FakeOllamaServer; mai: Mai }> {
    // The same weights: pulled as llama3:8b on one box, copied as team-llama:latest on the other.
    const a = await startOllamaServer([
      { name: 'llama3:8b', digest: DIGEST, sizeBytes: 4_000_000_000, reply, chunkDelayMs: 20 },
      { name: 'qwen2:0.5b', sizeBytes: 400_000_000, reply },
    ]);
    const b = await startOllamaServer([{ name: 'team-llama:latest', digest: DIGEST, sizeBytes: 4_000_000_000, reply, chunkDelayMs: 20 }]);
    scene.own(() => a.close());
    scene.own(() => b.close());
    const mai = await scene.start(config(a, b));
    return { a, b, mai };
  }

  it('are one catalogue model with two replicas, each asked by its own tag, sharing a batch', async () => {
    const { a, b, mai } = await twoBoxes();
    const { models } = await mai.models();
    expect(models.map((m) => m.id).sort()).toEqual(['llama3:8b', 'qwen2:0.5b']);
    const llama = models.find((m) => m.id === 'llama3:8b')!;
    expect(llama.servers.map((s) => s.backend)).toEqual(['box-a', 'box-b']);
    // A different digest on the same box stays its own model.
    expect(models.find((m) => m.id === 'qwen2:0.5b')!.servers.map((s) => s.backend)).toEqual(['box-a']);

    const answered = await batch(mai, 12, 4);
    expect(new Set(answered)).toEqual(new Set(['llama3:8b']));
    expect(turns(a).every((c) => c.model === 'llama3:8b')).toBe(true);
    expect(turns(b).every((c) => c.model === 'team-llama:latest')).toBe(true);
    // Ollama says no slots: each replica answers fallback.parallelPerModel (1) at a time, so a
    // batch of 4 in flight keeps both busy.
    expect(turns(a).length).toBeGreaterThan(0);
    expect(turns(b).length).toBeGreaterThan(0);
    expect(turns(a).length + turns(b).length).toBe(12);
  });

  it('when one box dies, its replica on the other box answers before any other model', async () => {
    const { a, b, mai } = await twoBoxes();
    const first = await mai.chat({ message: 'hello' });
    expect(first.model).toBe('llama3:8b');
    const holder = turns(a).length > 0 ? a : b;
    const other = holder === a ? b : a;
    await holder.close();
    const next = await mai.chat({ message: 'again', conversationId: first.conversationId });
    expect(next).toMatchObject({ model: 'llama3:8b', text: 'Answer to: again.' });
    expect(turns(other).map((c) => c.messages.at(-1)?.content)).toContain('again');
    expect(a.chats.some((c) => c.model === 'qwen2:0.5b' && c.messages.length > 0)).toBe(false);
  });
});
