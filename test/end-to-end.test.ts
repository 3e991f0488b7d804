import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TurnEvent } from '../core/pipeline/turn.ts';
import { startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';
import { createTestMai, tempDir, type TempDir } from './support/harness.ts';

describe('a turn end to end through the pipeline', () => {
  let server: FakeOpenAIServer;
  let dir: TempDir;
  beforeEach(async () => {
    server = await startOpenAIServer([{ id: 'loop-model', reply: 'Hello from the loopback server.', chunks: 5 }]);
    dir = await tempDir();
  });
  afterEach(async () => {
    await server.close();
    await dir.cleanup();
  });

  it('streams the answer from a real HTTP server on loopback and persists the turn', async () => {
    const { mai } = await createTestMai(dir.path, `
backends:
  - use: openai
    name: loop
    options: { baseURL: ${server.baseURL} }
scorers:
  - use: resource-fit
  - use: context-fit
`);
    const events: TurnEvent[] = [];
    const result = await mai.chat({ message: 'Say hello.', system: 'You are terse.' }, { onEvent: (e) => events.push(e) });
    await mai.close();

    expect(result.text).toBe('Hello from the loopback server.');
    expect(result.model).toBe('loop-model');
    expect(result.finishReason).toBe('stop');
    expect(result.attempts).toEqual([{ model: 'loop-model' }]);
    expect(events.filter((e) => e.kind === 'delta').map((e) => (e as { text: string }).text).join('')).toBe(result.text);
    expect(events.filter((e) => e.kind === 'delta').length).toBe(5);
    // The server got the system prompt and the user message.
    expect(server.requests[0]?.messages).toEqual([
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Say hello.' },
    ]);
    // The turn is on disk.
    const file = join(dir.path, 'state', 'conversations', `${result.conversationId}.jsonl`);
    const records = (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(records.map((r) => r.type)).toEqual(['meta', 'message', 'message', 'message']);
    expect(records[3].message).toMatchObject({ role: 'assistant', text: 'Hello from the loopback server.', model: 'loop-model' });
  });

  it('continues a conversation: the next turn sends the earlier ones', async () => {
    const { mai } = await createTestMai(dir.path, `
backends:
  - use: openai
    options: { baseURL: ${server.baseURL} }
scorers: [{ use: context-fit }]
`);
    const first = await mai.chat({ message: 'one' });
    await mai.chat({ message: 'two', conversationId: first.conversationId });
    await mai.close();
    expect(server.requests[1]?.messages.map((m) => m.content)).toEqual(['one', 'Hello from the loopback server.', 'two']);
  });
});
