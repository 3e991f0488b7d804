/**
 * The conversation store on real files: a turn is one record group, read back whole; a record torn
 * by a crash is skipped and reported (and an append after it keeps the file readable); any other
 * bad line is an error naming file and line, and the file is never changed; two processes (Deno
 * children and this Node process) appending to one conversation at once never interleave records.
 */
import { appendFile, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConversationStore } from '../core/context/conversation-store.ts';
import type { StoredMessage } from '../core/context/message.ts';
import { ErrorCodes, MaiError } from '../core/errors.ts';
import { startAppendWorker } from './support/append-workers.ts';
import { tempDir, type TempDir } from './support/harness.ts';

const at = '2025-01-01T00:00:00.000Z';
const turn = (q: string, a: string): StoredMessage[] => [
  { role: 'user', text: q, at },
  { role: 'assistant', text: a, at, model: 'm' },
];

describe('the conversation store', () => {
  let dir: TempDir;
  let store: ConversationStore;
  beforeEach(async () => {
    dir = await tempDir();
    store = new ConversationStore(join(dir.path, 'conversations'));
  });
  afterEach(() => dir.cleanup());

  it('writes each turn as one group of records and reads every message back', async () => {
    await store.append('c1', [{ role: 'system', text: 'Be brief.', at, permanent: true }, ...turn('one', 'first answer')]);
    await store.append('c1', turn('two', 'second answer'));
    const conversation = await store.load('c1');
    expect(conversation?.messages.map((m) => m.text)).toEqual(['Be brief.', 'one', 'first answer', 'two', 'second answer']);
    expect(conversation?.warnings).toEqual([]);
    const records = (await readFile(store.file('c1'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records[0]).toMatchObject({ type: 'meta', id: 'c1' });
    expect(records.slice(1).map((r) => r.last ?? false)).toEqual([false, false, true, false, true]);
    expect(new Set(records.slice(1, 4).map((r) => r.turn)).size).toBe(1);
    expect(records[4]!.turn).not.toBe(records[1]!.turn);
    expect(await store.load('missing')).toBeNull();
  });

  it('skips a record torn by a crash and reports it; the next append keeps the file readable', async () => {
    await store.append('c2', turn('one', 'first answer'));
    const file = store.file('c2');
    const intact = await readFile(file, 'utf8');
    // A crash in the middle of the second turn's write: half a record, no newline.
    const torn = JSON.stringify({ type: 'message', turn: 't2', message: { role: 'user', text: 'two', at } }).slice(0, 30);
    await appendFile(file, torn);
    let conversation = await store.load('c2');
    expect(conversation?.messages.map((m) => m.text)).toEqual(['one', 'first answer']);
    expect(conversation?.warnings).toEqual([`${file}:4: skipped a torn record (a crash during a write); earlier turns are intact.`]);

    await store.append('c2', turn('three', 'third answer'));
    conversation = await store.load('c2');
    expect(conversation?.messages.map((m) => m.text)).toEqual(['one', 'first answer', 'three', 'third answer']);
    expect(conversation?.warnings).toHaveLength(1);
    // Nothing before was rewritten: the file only grew.
    expect((await readFile(file, 'utf8')).startsWith(intact + torn)).toBe(true);
  });

  it('drops a turn whose last record never reached the disk, keeping every earlier turn', async () => {
    await store.append('c3', turn('one', 'first answer'));
    const file = store.file('c3');
    await appendFile(file, `${JSON.stringify({ type: 'message', turn: 'cut', message: { role: 'user', text: 'two', at } })}\n`);
    let conversation = await store.load('c3');
    expect(conversation?.messages.map((m) => m.text)).toEqual(['one', 'first answer']);
    expect(conversation?.warnings[0]).toMatch(/:4: skipped an unfinished turn \(1 message\(s\)\) at the end of the file/);
    await store.append('c3', turn('three', 'third answer'));
    conversation = await store.load('c3');
    expect(conversation?.messages.map((m) => m.text)).toEqual(['one', 'first answer', 'three', 'third answer']);
  });

  it('refuses a corrupt line with its file and line number, and leaves the file as it was', async () => {
    await store.append('c4', turn('one', 'first answer'));
    await store.append('c4', turn('two', 'second answer'));
    const file = store.file('c4');
    const lines = (await readFile(file, 'utf8')).split('\n');
    lines[2] = '{"type":"message", this is not json';
    await writeFile(file, lines.join('\n'));
    const before = await readFile(file, 'utf8');
    const error = await store.load('c4').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MaiError);
    expect((error as MaiError).code).toBe(ErrorCodes.conversationCorrupt);
    expect((error as MaiError).message).toContain(`${file}:3: this line is not a valid record`);
    expect((error as MaiError).data).toEqual({ file, line: 3 });
    expect(await readFile(file, 'utf8')).toBe(before);
    // Listing shows it with the error rather than hiding it.
    const listed = (await store.list()).conversations;
    expect(listed.find((c) => c.id === 'c4')?.error).toContain(':3:');
  });

  it('refuses a record that is JSON but not a message', async () => {
    await mkdir(store.dir, { recursive: true });
    await writeFile(store.file('c5'), `${JSON.stringify({ type: 'meta', id: 'c5', createdAt: at })}\n${JSON.stringify({ type: 'message', message: { role: 'robot', text: 1 } })}\n{"type":"meta","id":"c5","createdAt":"x"}\n`);
    await expect(store.load('c5')).rejects.toThrow(/c5\.jsonl:2: this message record has no valid role, text or time/);
  });

  it('rejects ids that could leave the folder', async () => {
    for (const id of ['../escape', 'a/b', '', '.hidden']) {
      await expect(store.load(id)).rejects.toMatchObject({ code: ErrorCodes.invalidParams });
    }
  });

  it('lists conversations newest first and deletes one with its cached summaries', async () => {
    await store.append('old', [{ ...turn('first question', 'a')[0]!, at: '2025-01-01T00:00:00.000Z' }, { ...turn('q', 'a')[1]!, at: '2025-01-01T00:00:01.000Z' }]);
    await store.append('new', [{ ...turn('second question', 'a')[0]!, at: '2025-02-01T00:00:00.000Z' }, { ...turn('q', 'a')[1]!, at: '2025-02-01T00:00:01.000Z' }]);
    await mkdir(join(store.dir, '.summaries'), { recursive: true });
    await writeFile(store.summaryFile('old'), '{}\n');
    expect((await store.list()).conversations.map((c) => [c.id, c.title, c.messages])).toEqual([
      ['new', 'second question', 2],
      ['old', 'first question', 2],
    ]);
    expect(await store.delete('old')).toBe(true);
    expect(await store.delete('old')).toBe(false);
    expect(await readdir(join(store.dir, '.summaries'))).toEqual([]);
    expect((await store.list()).conversations.map((c) => c.id)).toEqual(['new']);
  });

  it('never interleaves records when several processes append to one conversation at once', async () => {
    const turns = 30;
    const worker = (name: string) => startAppendWorker([store.dir, 'shared', name, String(turns)]);
    const a = worker('deno-a');
    const b = worker('deno-b');
    await Promise.all([a.ready, b.ready]);
    a.go(); // all three writers start together
    b.go();
    for (let i = 0; i < turns; i++) await store.append('shared', turn(`node:${i} question`, `node:${i} `.repeat(2_000 + ((i * 7919) % 6_000))));
    expect(await Promise.all([a.done, b.done])).toEqual(['ready\ndeno-a done\n', 'ready\ndeno-b done\n']);

    const conversation = await store.load('shared');
    expect(conversation?.warnings).toEqual([]);
    const messages = conversation!.messages;
    expect(messages).toHaveLength(3 * turns * 2);
    // Every turn's two messages are adjacent and belong together; each writer's turns keep their order.
    const next = new Map<string, number>();
    for (let i = 0; i < messages.length; i += 2) {
      const [writer, seq] = messages[i]!.text.split(' ')[0]!.split(':') as [string, string];
      expect(messages[i]!.text).toBe(`${writer}:${seq} question`);
      expect(messages[i + 1]!.text.startsWith(`${writer}:${seq} `)).toBe(true);
      expect(new Set(messages[i + 1]!.text.trim().split(' '))).toEqual(new Set([`${writer}:${seq}`]));
      expect(Number(seq)).toBe(next.get(writer) ?? 0);
      next.set(writer, Number(seq) + 1);
    }
    expect(Object.fromEntries(next)).toEqual({ 'deno-a': turns, 'deno-b': turns, node: turns });
    // Every line is a whole record: one meta and one record per message.
    const lines = (await readFile(store.file('shared'), 'utf8')).split('\n').filter(Boolean);
    expect(lines).toHaveLength(1 + messages.length);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
  }, 120_000);
});
