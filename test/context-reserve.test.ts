/**
 * Through Mai, on real files: a new conversation's file is created while the model answers
 * (reserved-file.ts), so storing the answer is one write; while the turn runs the file exists, empty,
 * and reads as no conversation; a turn that fails or is cancelled leaves no file. The store's side of
 * it is in context-store-new.test.ts.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Mai } from '../core/mai.ts';
import { createTestMai, tempDir, type TempDir } from './support/harness.ts';
import { startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';

const types = async (file: string) => (await readFile(file, 'utf8')).split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { type: string }).type);
const exists = (file: string) => stat(file).then(() => true, () => false);

describe('through Mai', () => {
  let dir: TempDir;
  let server: FakeOpenAIServer;
  let mai: Mai;
  let release: () => void;
  let held: Promise<void>;
  let arrived: Promise<void>;
  const conversations = () => join(dir.path, 'state', 'conversations');
  beforeEach(async () => {
    dir = await tempDir();
    let onArrival: () => void = () => {};
    arrived = new Promise((resolve) => (onArrival = resolve));
    held = new Promise((resolve) => (release = resolve));
    server = await startOpenAIServer([
      {
        id: 'held-model',
        reply: 'The held answer.',
        chunks: 3,
        hold: async () => {
          onArrival();
          await held;
        },
      },
    ]);
    ({ mai } = await createTestMai(
      dir.path,
      `
backends:
  - use: openai
    options: { baseURL: ${server.baseURL}, llamaCppExtras: false }
scorers: [{ use: context-fit }]
fallback: { retries: 0 }
context: { stateDir: ./state }
`,
    ));
  });
  afterEach(async () => {
    release();
    await mai.close();
    await server.close();
    await dir.cleanup();
  });

  it('creates the file while the model answers, shows nothing of it until the answer is stored, then stores the turn in it', async () => {
    const answer = mai.chat({ message: 'Hold on.', conversationId: 'while-answering' });
    await arrived;
    const file = join(conversations(), 'while-answering.jsonl');
    await expect.poll(() => exists(file)).toBe(true);
    expect((await stat(file)).size).toBe(0);
    expect((await mai.listConversations({})).conversations).toEqual([]);
    release();
    const result = await answer;
    expect(result.text).toBe('The held answer.');
    expect(await types(file)).toEqual(['meta', 'message', 'message']);
    expect((await mai.getConversation('while-answering')).messages.map((m) => m.text)).toEqual(['Hold on.', 'The held answer.']);
  });

  it('leaves no file for a turn that fails or is cancelled', async () => {
    server.models.get('held-model')!.queue = [{ kind: 'status', status: 500 }];
    release();
    await expect(mai.chat({ message: 'This one fails.', conversationId: 'failed' })).rejects.toThrow();

    server.models.get('held-model')!.behaviour = { kind: 'hang' };
    const controller = new AbortController();
    const cancelled = mai.chat({ message: 'This one is cancelled.', conversationId: 'cancelled' }, { signal: controller.signal });
    await expect.poll(() => exists(join(conversations(), 'cancelled.jsonl'))).toBe(true);
    controller.abort();
    await expect(cancelled).rejects.toThrow();

    await mai.close(); // waits for the unused files' removal
    expect((await readdir(conversations())).filter((name) => name.endsWith('.jsonl'))).toEqual([]);
  });
});
