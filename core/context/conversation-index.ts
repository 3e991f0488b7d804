/**
 * The summaries conversations/list pages through, without reading every conversation each time.
 * The conversation files stay the truth: an entry is used only while its file's size and mtime are
 * what they were when it was made, otherwise that one file is read again. The index lives in
 * memory and in `.index.json`, which is replaced whole (written aside, then renamed), so a crash
 * leaves the old index or the new one, never a torn one; a missing or unreadable index is rebuilt
 * from the files.
 */
import { Buffer } from 'node:buffer';
import { readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.ts';
import type { ConversationSummary } from './message.ts';

interface Entry {
  summary: ConversationSummary;
  size: number;
  mtimeMs: number;
}

export interface ConversationPage {
  conversations: ConversationSummary[];
  /** Pass it back as `cursor` for the next page; absent on the last page. */
  nextCursor?: string;
}

const VERSION = 1;

/** Newest first; ties by id, so the order is total and a cursor is exact. */
const newestFirst = (a: ConversationSummary, b: ConversationSummary) => b.updatedAt.localeCompare(a.updatedAt) || a.id.localeCompare(b.id);

const encodeCursor = (s: ConversationSummary) => Buffer.from(JSON.stringify([s.updatedAt, s.id])).toString('base64url');
function decodeCursor(cursor: string): ConversationSummary | undefined {
  try {
    const [updatedAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof updatedAt === 'string' && typeof id === 'string') return { id, updatedAt, createdAt: '', messages: 0, title: '' };
  } catch {
    // not a cursor this index made
  }
  return undefined;
}

export class ConversationIndex {
  private entries: Map<string, Entry> | null = null;
  private readonly file: string;

  constructor(
    private readonly dir: string,
    private readonly summarise: (id: string) => Promise<ConversationSummary | null>,
    private readonly log?: Logger,
  ) {
    this.file = join(dir, '.index.json');
  }

  /** One page, newest first: `limit` summaries after `cursor`. An unknown cursor is an error the caller reports. */
  async page(options: { cursor?: string | undefined; limit: number }): Promise<ConversationPage | 'bad-cursor'> {
    const after = options.cursor === undefined ? undefined : decodeCursor(options.cursor);
    if (options.cursor !== undefined && !after) return 'bad-cursor';
    const all = (await this.refresh()).sort(newestFirst);
    const start = after ? all.findIndex((s) => newestFirst(s, after) > 0) : 0;
    const from = start === -1 ? all.length : start;
    const conversations = all.slice(from, from + options.limit);
    const last = conversations.at(-1);
    return from + options.limit < all.length && last ? { conversations, nextCursor: encodeCursor(last) } : { conversations };
  }

  /** Brings the index in line with the files (stat each; read only the changed ones) and saves it when it changed. */
  private async refresh(): Promise<ConversationSummary[]> {
    const entries = this.entries ?? (await this.readIndex());
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter((n) => n.endsWith('.jsonl') && !n.startsWith('.'));
    } catch {
      names = [];
    }
    let changed = this.entries === null && entries.size !== names.length;
    const present = new Set<string>();
    for (const name of names) {
      const id = name.slice(0, -'.jsonl'.length);
      present.add(id);
      const stats = await stat(join(this.dir, name)).catch(() => null);
      if (!stats) continue;
      const known = entries.get(id);
      if (known && known.size === stats.size && known.mtimeMs === stats.mtimeMs) continue;
      let summary: ConversationSummary | null;
      try {
        summary = await this.summarise(id);
      } catch (error) {
        summary = { id, messages: 0, createdAt: '', updatedAt: '', title: '', error: (error as Error).message };
      }
      if (summary) entries.set(id, { summary, size: stats.size, mtimeMs: stats.mtimeMs });
      changed = true;
    }
    for (const id of entries.keys()) {
      if (!present.has(id)) {
        entries.delete(id);
        changed = true;
      }
    }
    this.entries = entries;
    if (changed) await this.save(entries);
    return [...entries.values()].map((e) => e.summary);
  }

  private async readIndex(): Promise<Map<string, Entry>> {
    try {
      const saved = JSON.parse(await readFile(this.file, 'utf8')) as { version?: unknown; entries?: unknown };
      if (saved.version === VERSION && Array.isArray(saved.entries)) {
        return new Map((saved.entries as Entry[]).filter((e) => typeof e?.summary?.id === 'string').map((e) => [e.summary.id, e]));
      }
    } catch {
      // missing or unreadable: rebuilt from the files
    }
    return new Map();
  }

  private async save(entries: Map<string, Entry>): Promise<void> {
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      await writeFile(tmp, JSON.stringify({ version: VERSION, entries: [...entries.values()] }));
      await rename(tmp, this.file);
    } catch (error) {
      this.log?.debug(`could not save the conversation index ${this.file}; it is rebuilt next time`, error);
    }
  }
}
