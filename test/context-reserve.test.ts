/**
 * A new conversation's file is created while the model answers (reserved-file.ts), so storing the
 * answer is one write; on real files. While the turn runs the file exists, empty, and reads as no
 * conversation (nor does one a crash left empty); the answer is written to it whole; a turn that
 * fails or is cancelled leaves no file; another writer's turn in a reserved file is never removed.
 */
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConversationStore } from '../core/context/conversation-store.ts';
import type { StoredMessage } from '../core/context/message.ts';
import type { Mai } from '../core/mai.ts';
import { createTestMai, tempDir, type TempDir } from './support/harness.ts';
import { startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';

const at = '2025-01-01T00:00:00.000Z';
const turn = (q: string, a: string): StoredMessage[] => [
  { role: 'user', text: q, at },
  { role: 'assistant', text: a, at, model: 'm' },
];
const types = async (file: string) => (await readFile(file, 'utf8')).split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { type: string }).type);
const exists = (file: string) => stat(file).then(() => true, () => false);

describe('the store: a reserved file', () => {
  let dir: TempDir;
  let store: ConversationStore;
  beforeEach(async () => {
    dir = await tempDir();
    store = new ConversationStore(join(dir.path, 'conversations'));
  });
  afterEach(() => dir.cleanup());

  it('exists empty once reserved, reads as no conversation, and takes the first turn whole', async () => {
    const id = store.newId();
    const reserved = store.reserve(id);
    expect(reserved).not.toBeNull();
    await reserved!.take().then((handle) => handle?.close()); // wait for the creation (a taken reservation is not reused)
    expect((await stat(store.file(id))).size).toBe(0);
    expect(await new ConversationStore(store.dir).load(id)).toBeNull();
    expect((await store.list()).conversations).toEqual([]);

    const again = store.newId();
    const second = store.reserve(again);
    await store.append(again, turn('one', 'first answer'), second);
    expect(await types(store.file(again))).toEqual(['meta', 'message', 'message']);
    await store.append(again, turn('two', 'second answer'));
    expect((await store.load(again))?.messages.map((m) => m.text)).toEqual(['one', 'first answer', 'two', 'second answer']);
    expect(store.reserve(again)).toBeNull(); // it has a file now
    await store.settled();
  });

  it('is removed when its turn stores nothing, and kept when another writer appended to it meanwhile', async () => {
    const unused = store.newId();
    const reservation = store.reserve(unused)!;
    await expect.poll(() => exists(store.file(unused))).toBe(true);
    store.discard(reservation);
    await store.settled();
    expect(await exists(store.file(unused))).toBe(false);

    // Another process that knew the id appended its turn (under the lock) before this turn failed.
    const shared = store.newId();
    const reserved = store.reserve(shared)!;
    await expect.poll(() => exists(store.file(shared))).toBe(true);
    await new ConversationStore(store.dir).append(shared, turn('from the other writer', 'kept'));
    store.discard(reserved);
    await store.settled();
    expect((await store.load(shared))?.messages.map((m) => m.text)).toEqual(['from the other writer', 'kept']);
  });

  it('an empty file a crash left behind reads as no conversation, and the next turn writes its header', async () => {
    await store.append('seed', turn('makes', 'the folder'));
    await writeFile(store.file('left-empty'), '');
    const after = new ConversationStore(store.dir);
    expect(await after.load('left-empty')).toBeNull();
    expect((await after.list()).conversations.map((c) => c.id)).toEqual(['seed']);
    await after.append('left-empty', turn('hello', 'again'));
    expect(await types(after.file('left-empty'))).toEqual(['meta', 'message', 'message']);
    expect((await after.load('left-empty'))?.messages.map((m) => m.text)).toEqual(['hello', 'again']);
  });
});

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
