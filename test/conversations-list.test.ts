/**
 * Issue 16, defect 9: conversations/list is paged (cursor + limit), served from an index that a
 * crash cannot corrupt: a torn, garbage or missing index is rebuilt from the conversation files,
 * which stay the truth, and a file changed behind the index's back is read again. Real files.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConversationStore } from '../core/context/conversation-store.ts';
import { tempDir, type TempDir } from './support/harness.ts';

const record = (value: unknown) => `${JSON.stringify(value)}\n`;
function conversationFile(id: string, day: number, question: string): string {
  const at = new Date(Date.UTC(2026, 0, 1) + day * 60_000).toISOString();
  return (
    record({ type: 'meta', id, createdAt: at }) +
    record({ type: 'message', turn: 't', message: { role: 'user', text: question, at } }) +
    record({ type: 'message', turn: 't', last: true, message: { role: 'assistant', text: 'ok', at } })
  );
}

async function allPages(store: ConversationStore, limit: number): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await store.list({ cursor, limit });
    pages++;
    ids.push(...page.conversations.map((c) => c.id));
    cursor = page.nextCursor;
  } while (cursor);
  return { ids, pages };
}

describe('conversations/list pages from a crash-safe index', () => {
  let dir: TempDir;
  let folder: string;
  const count = 250;
  const expected = Array.from({ length: count }, (_, i) => `c${String(count - 1 - i).padStart(4, '0')}`); // newest first
  beforeEach(async () => {
    dir = await tempDir('mai-list-');
    folder = join(dir.path, 'conversations');
    await mkdir(folder, { recursive: true });
    for (let i = 0; i < count; i++) await writeFile(join(folder, `c${String(i).padStart(4, '0')}.jsonl`), conversationFile(`c${String(i).padStart(4, '0')}`, i, `question ${i}`));
  });
  afterEach(() => dir.cleanup());

  it('pages newest first: every conversation once, in limit-sized pages', async () => {
    const store = new ConversationStore(folder);
    const { ids, pages } = await allPages(store, 100);
    expect(pages).toBe(3);
    expect(ids).toEqual(expected);
    const first = await store.list({ limit: 2 });
    expect(first.conversations.map((c) => [c.id, c.title, c.messages])).toEqual([
      ['c0249', 'question 249', 2],
      ['c0248', 'question 248', 2],
    ]);
    expect((await store.list()).conversations).toHaveLength(100); // the default page
    await expect(store.list({ cursor: 'not-a-cursor' })).rejects.toMatchObject({ code: 'invalid-params' });
  });

  it('a torn, garbage or missing index is rebuilt from the files; a file changed behind it is read again', async () => {
    await allPages(new ConversationStore(folder), 100);
    const index = join(folder, '.index.json');
    const whole = await readFile(index, 'utf8');
    for (const damaged of [whole.slice(0, whole.length / 2), 'garbage', null]) {
      if (damaged === null) await rm(index);
      else await writeFile(index, damaged);
      expect((await allPages(new ConversationStore(folder), 100)).ids).toEqual(expected); // a fresh process
    }
    // Another process appends to the oldest conversation and removes one: the index follows the files.
    const store = new ConversationStore(folder);
    await allPages(store, 100);
    await writeFile(join(folder, 'c0000.jsonl'), conversationFile('c0000', 10_000, 'now the newest'));
    await rm(join(folder, 'c0001.jsonl'));
    const page = await store.list({ limit: 1 });
    expect(page.conversations[0]).toMatchObject({ id: 'c0000', title: 'now the newest' });
    const { ids } = await allPages(store, 100);
    expect(ids).toHaveLength(count - 1);
    expect(ids).not.toContain('c0001');
  });
});
