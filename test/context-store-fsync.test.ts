/**
 * When a turn's fsync happens (`context.fsync`), on real files: the turn is in its file as soon as
 * `append` returns either way; with `fsync: 'after-reply'` (Mai's default) its file
 * is still open for the fsync when `append` returns and `settled()` waits for it; with before-reply
 * every file is fsynced and closed before its reply. The open handles are read from /proc/self/fd, so a handle left open (an
 * fsync not waited for) shows.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConversationStore } from '../core/context/conversation-store.ts';
import type { StoredMessage } from '../core/context/message.ts';
import { createTestMai, tempDir, type TempDir } from './support/harness.ts';
import { startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';

const at = '2025-01-01T00:00:00.000Z';
const turn = (q: string, a: string): StoredMessage[] => [
  { role: 'user', text: q, at },
  { role: 'assistant', text: a, at, model: 'm' },
];

/** How many of this process's file descriptors are open on `file` (read synchronously: no fsync ends meanwhile). */
function openHandles(file: string): number {
  let count = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === file) count++;
    } catch {
      // closed while listing
    }
  }
  return count;
}

const texts = async (store: ConversationStore, id: string) => (await new ConversationStore(store.dir).load(id))?.messages.map((m) => m.text);

describe('when a turn is fsynced', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(() => dir.cleanup());

  it('after returning: the turn is written when append returns, its fsync is pending, and settled() waits for it', async () => {
    const store = new ConversationStore(join(dir.path, 'conversations'), undefined, { fsync: 'after-reply' });
    const id = store.newId();
    await store.append(id, turn('one', 'first answer')); // the lock-free path of a new file
    expect(store.syncing).toBe(1);
    expect(openHandles(store.file(id))).toBeGreaterThanOrEqual(1); // one on Node; Deno's FileHandle may hold two descriptors
    expect(await texts(store, id)).toEqual(['one', 'first answer']);
    await store.append(id, turn('two', 'second answer')); // the locked path
    expect(store.syncing).toBeGreaterThanOrEqual(1);
    expect(openHandles(store.file(id))).toBeGreaterThanOrEqual(1);
    expect(await texts(store, id)).toEqual(['one', 'first answer', 'two', 'second answer']);
    await store.settled();
    expect(store.syncing).toBe(0);
    expect(openHandles(store.file(id))).toBe(0);
  });

  it('before-reply: nothing is left pending when append returns', async () => {
    const store = new ConversationStore(join(dir.path, 'conversations'), undefined, { fsync: 'before-reply' });
    const id = store.newId();
    await store.append(id, turn('one', 'first answer'));
    expect(store.syncing).toBe(0);
    expect(openHandles(store.file(id))).toBe(0);
    await store.append(id, turn('two', 'second answer'));
    expect(store.syncing).toBe(0);
    expect(openHandles(store.file(id))).toBe(0);
    expect(await texts(store, id)).toEqual(['one', 'first answer', 'two', 'second answer']);
  });

  it('a turn over 64 KiB (written through the thread pool, not on the calling thread) is whole, on the new-file and the locked path', async () => {
    const store = new ConversationStore(join(dir.path, 'conversations'), undefined, { fsync: 'before-reply' });
    const id = store.newId();
    const long = (tag: string) => `${tag} `.repeat(40_000); // 160–200 KB, past durable-file.ts's WRITE_NOW_BYTES
    await store.append(id, turn('one', long('first')));
    await store.append(id, turn('two', long('second')));
    expect(openHandles(store.file(id))).toBe(0);
    expect(await texts(store, id)).toEqual(['one', long('first'), 'two', long('second')]);
  });

  for (const fsync of ['before-reply', 'after-reply'] as const) {
    it(`new conversations created together share the folder's fsync (fsync: ${fsync})`, async () => {
      const store = new ConversationStore(join(dir.path, 'conversations'), undefined, { fsync });
      await store.append(store.newId(), turn('first', 'makes the folder'));
      await store.settled();
      const before = store.folderSyncs;
      const ids = Array.from({ length: 20 }, () => store.newId());
      await Promise.all(ids.map((id, i) => store.append(id, turn(`q${i}`, `a${i}`))));
      await store.settled();
      // Each of the 20 names needs a folder fsync that started after it was created; one running and one queued cover all.
      const shared = store.folderSyncs - before;
      expect(shared).toBeGreaterThanOrEqual(1);
      expect(shared).toBeLessThan(20);
      for (const [i, id] of ids.entries()) expect(await texts(store, id)).toEqual([`q${i}`, `a${i}`]);
    });
  }

  describe('through Mai', () => {
    let server: FakeOpenAIServer;
    beforeEach(async () => {
      server = await startOpenAIServer([{ id: 'loop-model', reply: 'Stored answer.', chunks: 3 }]);
    });
    afterEach(() => server.close());

    for (const fsync of ['after-reply', 'before-reply'] as const) {
      it(`${fsync}: the turn is in its file when the reply comes, and no file is left open after Mai closes`, async () => {
        const { mai } = await createTestMai(
          dir.path,
          `
backends:
  - use: openai
    options: { baseURL: ${server.baseURL} }
scorers: [{ use: context-fit }]
context: { stateDir: ./state, fsync: ${fsync} }
`,
        );
        const results = await Promise.all(['a', 'b', 'c'].map((message) => mai.chat({ message })));
        const files = results.map((r) => join(dir.path, 'state', 'conversations', `${r.conversationId}.jsonl`));
        // before-reply: every file was fsynced and closed before its reply.
        if (fsync === 'before-reply') for (const file of files) expect(openHandles(file)).toBe(0);
        for (const file of files) expect(await readFile(file, 'utf8')).toContain('"Stored answer."');
        await mai.close();
        for (const file of files) expect(openHandles(file)).toBe(0);
      });
    }
  });
});
