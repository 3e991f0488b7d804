/**
 * The lock-free first write of a new conversation, at its one delicate instant: another process
 * appends (under the lock, seeing an empty file) between this process's exclusive creation of the
 * file and its write. The real `open` is wrapped only to hold the creator there; every write goes
 * to a real file. With O_APPEND both turns are kept whole; a positional write would overwrite one.
 * And an append to an existing conversation that opens the file just before `delete` removes it
 * writes its turn to a new file of that name, not into the removed one.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConversationStore } from '../core/context/conversation-store.ts';
import type { StoredMessage } from '../core/context/message.ts';
import { tempDir, type TempDir } from './support/harness.ts';

const gate = vi.hoisted(() => ({ flags: 'ax', created: () => {}, hold: null as Promise<void> | null }));
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  // The store opens its files with node:fs's callback open (durable-file.ts): the callback is held.
  const open = (path: string, flags: string, callback: (error: NodeJS.ErrnoException | null, fd: number) => void) => {
    real.open(path, flags, (error, fd) => {
      if (error || flags !== gate.flags || !gate.hold) return callback(error, fd);
      gate.created();
      void gate.hold.then(() => callback(null, fd));
    });
  };
  return { ...real, default: { ...real, open }, open };
});

const at = '2025-01-01T00:00:00.000Z';
const turn = (q: string, a: string): StoredMessage[] => [
  { role: 'user', text: q, at },
  { role: 'assistant', text: a, at, model: 'm' },
];

describe('a new conversation created while another process appends to it', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir();
    gate.flags = 'ax';
  });
  afterEach(() => dir.cleanup());

  it('keeps both turns whole when the other append lands between creation and write', async () => {
    const creator = new ConversationStore(join(dir.path, 'conversations'));
    const other = new ConversationStore(creator.dir);
    const id = creator.newId();
    let release = () => {};
    const created = new Promise<void>((resolve) => (gate.created = resolve));
    gate.hold = new Promise<void>((resolve) => (release = resolve));
    const first = creator.append(id, turn('creator question', 'creator answer '.repeat(200)));
    await created; // the file exists, empty, and the creator has not written yet
    gate.hold = null;
    await other.append(id, turn('other question', 'other answer'));
    release();
    await first;
    const conversation = await creator.load(id);
    expect(conversation?.warnings).toEqual([]);
    expect(conversation?.messages.map((m) => m.text.split(' ')[0])).toEqual(['other', 'other', 'creator', 'creator']);
    expect(conversation?.createdAt).toBe(at);
  });

  it('writes to the name, not the removed file, when a delete lands between open and lock', async () => {
    const store = new ConversationStore(join(dir.path, 'conversations'));
    const other = new ConversationStore(store.dir);
    await store.append('c', turn('one', 'first answer'));
    let release = () => {};
    const opened = new Promise<void>((resolve) => (gate.created = resolve));
    gate.flags = 'a+';
    gate.hold = new Promise<void>((resolve) => (release = resolve));
    const second = store.append('c', turn('two', 'second answer'));
    await opened;
    gate.hold = null;
    expect(await other.delete('c')).toBe(true);
    release();
    await second;
    expect((await store.load('c'))?.messages.map((m) => m.text)).toEqual(['two', 'second answer']);
  });
});
