/**
 * A turn through the Mai facade on the gguf backend with the demo models (node-llama-cpp in
 * process, real tokens): the answer is streamed as deltas, persisted, and a pinned switch to
 * the other demo model within the same conversation is answered and persisted too.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Mai } from '../core/mai.ts';
import type { TurnEvent } from '../core/pipeline/turn.ts';
import { putDemoModels } from './support/demo-models.ts';
import { createTestMai, tempDir, type TempDir } from './support/harness.ts';

let dir: TempDir;
let mai: Mai;

beforeAll(async () => {
  dir = await tempDir('mai-gguf-facade-');
  await putDemoModels(join(dir.path, 'models'));
  ({ mai } = await createTestMai(
    dir.path,
    `
backends:
  - use: gguf
    options:
      folders: [./models]
      lmStudioFolders: []
      ollamaFolders: []
      threads: 1
      seed: 5
models:
  - id: mai-demo-large
    tier: large
    capabilities: [chat]
  - id: mai-demo-small
    tier: small
    capabilities: [chat]
scorers:
  - use: resource-fit
  - use: context-fit
`,
  ));
});
afterAll(async () => {
  await mai?.close();
  await dir?.cleanup();
});

function deltasOf(events: TurnEvent[]): string[] {
  return events.flatMap((e) => (e.kind === 'delta' ? [e.text] : []));
}

describe('Mai with the gguf backend and the demo models', () => {
  // The first turn loads node-llama-cpp, its native library and two models: slow on a busy machine.
  it('answers a turn with the large demo model, streamed and persisted', { timeout: 120_000 }, async () => {
    const events: TurnEvent[] = [];
    const result = await mai.chat({ message: 'Hello! What is the river like today?', system: 'You are terse.', maxTokens: 48 }, { onEvent: (e) => events.push(e) });
    expect(result.model).toBe('mai-demo-large');
    expect(result.attempts).toEqual([{ model: 'mai-demo-large' }]);
    const deltas = deltasOf(events);
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).toBe(result.text);
    expect(result.text.trim()).not.toBe('');
    expect(result.usage.completionTokens).toBeGreaterThan(0);
    expect(result.usage.completionTokens).toBeLessThanOrEqual(48);

    const stored = await mai.getConversation(result.conversationId);
    expect(stored.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant']);
    expect(stored.messages[2]).toMatchObject({ role: 'assistant', text: result.text, model: 'mai-demo-large' });

    const status = mai.status();
    expect(status.backends).toEqual([{ name: 'gguf', reachable: true, host: 'local', local: true }]);
    const models = await mai.models();
    expect(models.models.find((m) => m.id === 'mai-demo-large')).toMatchObject({ loaded: true, quantization: 'F16', contextLength: 8192 });
    // (Whether the small one is loaded depends on Mai's preloading of the fallback model.)
    expect(models.models.find((m) => m.id === 'mai-demo-small')).toMatchObject({ quantization: 'F32', contextLength: 4096 });

    // The next turn of the same conversation, pinned to the small model.
    await mai.switch('mai-demo-small');
    const next: TurnEvent[] = [];
    const second = await mai.chat({ message: 'And the sea?', conversationId: result.conversationId, maxTokens: 32 }, { onEvent: (e) => next.push(e) });
    expect(second.model).toBe('mai-demo-small');
    expect(deltasOf(next).join('')).toBe(second.text);
    const after = await mai.getConversation(result.conversationId);
    expect(after.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user', 'assistant']);
    expect(after.messages[4]).toMatchObject({ text: second.text, model: 'mai-demo-small' });
  });
});
