/**
 * The first turn of a conversation that has no file yet, on real files: it is written without the
 * cross-process lock (creating the file with 'ax' is exclusive), durably and whole; when several
 * processes (Deno children and this Node process) create the same new conversations at once, the
 * losers of each creation race append under the lock, and no record is lost or interleaved; the
 * folder is made again if it disappears; a new conversation's summaries are not read from disk. Its
 * file can be reserved (created empty while the model answers): empty, it reads as no conversation.
 */
import { closeSync } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConversationStore } from '../core/context/conversation-store.ts';
import type { StoredMessage } from '../core/context/message.ts';
import { SummaryCache } from '../core/context/summary-cache.ts';
import { startAppendWorker } from './support/append-workers.ts';
import { tempDir, type TempDir } from './support/harness.ts';

const at = '2025-01-01T00:00:00.000Z';
const turn = (q: string, a: string): StoredMessage[] => [
  { role: 'user', text: q, at },
  { role: 'assistant', text: a, at, model: 'm' },
];
const exists = (file: string) => stat(file).then(() => true, () => false);
const records = async (file: string) => (await readFile(file, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; turn?: string });

describe('the first turn of a new conversation', () => {
  let dir: TempDir;
  let store: ConversationStore;
  beforeEach(async () => {
    dir = await tempDir();
    store = new ConversationStore(join(dir.path, 'conversations'));
  });
  afterEach(() => dir.cleanup());

  it('is written without the lock when Mai minted the id or found no file, and later turns append after it', async () => {
    await mkdir(store.dir, { recursive: true });
    const minted = store.newId();
    expect(store.isNew(minted)).toBe(true);
    expect(await store.load('named')).toBeNull();
    expect(store.isNew('named')).toBe(true);
    // Another holder keeps both files locked: a locked append would wait for it (and then fail).
    const releases = await Promise.all([minted, 'named'].map((id) => lockfile.lock(store.file(id), { realpath: false })));
    await store.append(minted, turn('one', 'first answer'));
    await store.append('named', turn('one', 'first answer'));
    for (const release of releases) await release();
    expect(store.isNew(minted)).toBe(false);
    for (const id of [minted, 'named']) {
      await store.append(id, turn('two', 'second answer'));
      const conversation = await store.load(id);
      expect(conversation?.messages.map((m) => m.text)).toEqual(['one', 'first answer', 'two', 'second answer']);
      expect(conversation?.warnings).toEqual([]);
      expect(conversation?.createdAt).toBe(at);
      expect((await records(store.file(id))).map((r) => r.type)).toEqual(['meta', 'message', 'message', 'message', 'message']);
    }
  });

  it('falls back to the locked append when the file exists after all', async () => {
    const other = new ConversationStore(store.dir);
    expect(await store.load('c')).toBeNull();
    await other.append('c', turn('from the other process', 'a'));
    await store.append('c', turn('from this one', 'b'));
    expect((await store.load('c'))?.messages.map((m) => m.text)).toEqual(['from the other process', 'a', 'from this one', 'b']);
    expect((await records(store.file('c'))).map((r) => r.type)).toEqual(['meta', 'message', 'message', 'message', 'message']);
  });

  it('makes the folder again when it was removed after the first append', async () => {
    await store.append('old', turn('one', 'first answer'));
    await rm(store.dir, { recursive: true });
    await store.append('old', turn('two', 'second answer')); // the locked path
    expect((await store.load('old'))?.messages.map((m) => m.text)).toEqual(['two', 'second answer']);
    await rm(store.dir, { recursive: true });
    const id = store.newId();
    await store.append(id, turn('three', 'third answer')); // the lock-free path
    expect((await store.load(id))?.messages.map((m) => m.text)).toEqual(['three', 'third answer']);
  });

  it('never loses or interleaves records when two stores in one process create the same conversations at once', async () => {
    const stores = [store, new ConversationStore(store.dir), new ConversationStore(store.dir)];
    const ids = Array.from({ length: 30 }, (_, i) => `race-${i}`);
    for (const s of stores) for (const id of ids) expect(await s.load(id)).toBeNull();
    await Promise.all(stores.map((s, w) => Promise.all(ids.map((id) => s.append(id, turn(`w${w} q`, `w${w} `.repeat(5_000)))))));
    for (const id of ids) {
      const conversation = await store.load(id);
      expect(conversation?.warnings).toEqual([]);
      expect(new Set(conversation?.messages.map((m) => m.text.split(' ')[0]))).toEqual(new Set(['w0', 'w1', 'w2']));
      const lines = await records(store.file(id));
      expect(lines[0]?.type).toBe('meta');
      expect(lines.filter((r) => r.type === 'message')).toHaveLength(6);
    }
  });

  it('never loses or interleaves records when several processes create the same new conversations at once', async () => {
    const count = 20;
    const worker = (name: string) => startAppendWorker([store.dir, 'fresh', name, String(count), 'fresh']);
    const ids = Array.from({ length: count }, (_, i) => `fresh-${i}`);
    for (const id of ids) expect(await store.load(id)).toBeNull();
    const a = worker('deno-a');
    const b = worker('deno-b');
    await Promise.all([a.ready, b.ready]);
    a.go(); // all three writers race to create each conversation
    b.go();
    for (const [i, id] of ids.entries()) await store.append(id, turn(`node:${i} question`, `node:${i} `.repeat(2_000 + ((i * 7919) % 6_000))));
    expect(await Promise.all([a.done, b.done])).toEqual(['ready\ndeno-a done\n', 'ready\ndeno-b done\n']);

    for (const [i, id] of ids.entries()) {
      const conversation = await store.load(id);
      expect(conversation?.warnings).toEqual([]);
      const messages = conversation!.messages;
      expect(messages).toHaveLength(6);
      const writers: string[] = [];
      for (let m = 0; m < messages.length; m += 2) {
        const tag = messages[m]!.text.split(' ')[0]!;
        expect(messages[m]!.text).toBe(`${tag} question`);
        expect(new Set(messages[m + 1]!.text.trim().split(' '))).toEqual(new Set([tag]));
        writers.push(tag);
      }
      expect(writers.sort()).toEqual([`deno-a:${i}`, `deno-b:${i}`, `node:${i}`]);
      // Every line is a whole record; the file starts with its header.
      const lines = await records(store.file(id));
      expect(lines[0]?.type).toBe('meta');
      expect(lines.filter((r) => r.type === 'message')).toHaveLength(6);
    }
  }, 120_000);

  it('reads no summaries from disk for a conversation Mai just created, and does for an existing one', async () => {
    const existing = 'existing';
    await store.append(existing, turn('one', 'first answer'));
    const minted = store.newId();
    const summary = { key: 'span', text: 'a summary', tokens: 3, by: 'm' };
    await mkdir(join(store.dir, '.summaries'), { recursive: true });
    for (const id of [existing, minted]) await writeFile(store.summaryFile(id), `${JSON.stringify({ ...summary, key: id })}\n`);

    const cache = new SummaryCache({ fileOf: (id) => store.summaryFile(id), isNew: (id) => store.isNew(id) });
    await cache.load(existing);
    await cache.load(minted);
    expect(cache.get(existing, 10)?.text).toBe('a summary');
    expect(cache.get(minted, 10)).toBeUndefined();
    // What it summarises from now on is kept, in memory and on disk.
    await cache.put(minted, { ...summary, key: 'later' });
    await cache.load(minted);
    expect(cache.get('later', 10)?.text).toBe('a summary');
    expect(await readFile(store.summaryFile(minted), 'utf8')).toContain('"later"');
  });

  it('has its file, once reserved, empty: it reads as no conversation, then takes the first turn whole', async () => {
    const id = store.newId();
    const reserved = store.reserve(id);
    expect(reserved).not.toBeNull();
    await reserved!.take().then((fd) => fd !== null && closeSync(fd)); // wait for the creation (a taken reservation is not reused)
    expect((await stat(store.file(id))).size).toBe(0);
    expect(await new ConversationStore(store.dir).load(id)).toBeNull();
    expect((await store.list()).conversations).toEqual([]);

    const again = store.newId();
    const second = store.reserve(again);
    await store.append(again, turn('one', 'first answer'), second);
    expect((await records(store.file(again))).map((r) => r.type)).toEqual(['meta', 'message', 'message']);
    await store.append(again, turn('two', 'second answer'));
    expect((await store.load(again))?.messages.map((m) => m.text)).toEqual(['one', 'first answer', 'two', 'second answer']);
    expect(store.reserve(again)).toBeNull(); // it has a file now
    await store.settled();
  });

  it('has its reserved file removed when the turn stores nothing, and kept when another writer appended to it meanwhile', async () => {
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

  it('has its first turn stored in a new file when its reserved file was deleted meanwhile', async () => {
    const id = store.newId();
    const reserved = store.reserve(id);
    await expect.poll(() => exists(store.file(id))).toBe(true);
    expect(await store.delete(id)).toBe(true); // conversations/delete while the first turn runs
    await store.append(id, turn('one', 'kept all the same'), reserved);
    expect((await store.load(id))?.messages.map((m) => m.text)).toEqual(['one', 'kept all the same']);
    await store.settled();
  });

  it('an empty file a crash left behind reads as no conversation, and the next turn writes its header', async () => {
    await store.append('seed', turn('makes', 'the folder'));
    await writeFile(store.file('left-empty'), '');
    const after = new ConversationStore(store.dir);
    expect(await after.load('left-empty')).toBeNull();
    expect((await after.list()).conversations.map((c) => c.id)).toEqual(['seed']);
    await after.append('left-empty', turn('hello', 'again'));
    expect((await records(after.file('left-empty'))).map((r) => r.type)).toEqual(['meta', 'message', 'message']);
    expect((await after.load('left-empty'))?.messages.map((m) => m.text)).toEqual(['hello', 'again']);
  });
});
