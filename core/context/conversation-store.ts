/**
 * Conversations on disk: one append-only JSON-lines file each, in the state directory.
 * A finished turn is appended as one write and fsynced, so a crash loses at most the turn in flight;
 * a torn last line is skipped on read and reported. History is never rewritten.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCodes, MaiError } from '../errors.ts';
import type { Conversation, ConversationSummary, StoredMessage } from './message.ts';

const ID = /^[A-Za-z0-9._-]{1,128}$/;

type Record =
  | { type: 'meta'; id: string; createdAt: string }
  | { type: 'message'; message: StoredMessage };

export class ConversationStore {
  constructor(readonly dir: string) {}

  newId(): string {
    return randomUUID();
  }

  private file(id: string): string {
    if (!ID.test(id)) {
      throw new MaiError(ErrorCodes.invalidParams, `"${id}" is not a valid conversation id: use 1–128 letters, digits, ".", "_" or "-".`, {
        data: { conversationId: id },
      });
    }
    return join(this.dir, `${id}.jsonl`);
  }

  /** Reads a conversation; null when it does not exist. */
  async load(id: string): Promise<Conversation | null> {
    const file = this.file(id);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new MaiError(ErrorCodes.conversationCorrupt, `Cannot read ${file}: ${(error as Error).message}`, { cause: error, data: { file } });
    }
    return parseConversation(id, file, text);
  }

  /** Appends messages as one write, then fsyncs; creates the file with its header when new. */
  async append(id: string, messages: ReadonlyArray<StoredMessage>): Promise<void> {
    const file = this.file(id);
    await mkdir(this.dir, { recursive: true });
    const handle = await open(file, 'a');
    try {
      const { size } = await handle.stat();
      const records: Record[] = [];
      if (size === 0) records.push({ type: 'meta', id, createdAt: messages[0]?.at ?? new Date().toISOString() });
      for (const message of messages) records.push({ type: 'message', message });
      await handle.write(records.map((r) => `${JSON.stringify(r)}\n`).join(''));
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  async list(): Promise<ConversationSummary[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    const out: ConversationSummary[] = [];
    for (const name of names.filter((n) => n.endsWith('.jsonl')).sort()) {
      const conversation = await this.load(name.slice(0, -'.jsonl'.length)).catch(() => null);
      if (!conversation) continue;
      const firstUser = conversation.messages.find((m) => m.role === 'user');
      out.push({
        id: conversation.id,
        messages: conversation.messages.length,
        createdAt: conversation.createdAt,
        updatedAt: conversation.updatedAt,
        title: (firstUser?.text ?? '').slice(0, 80),
      });
    }
    return out.sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
  }

  async delete(id: string): Promise<boolean> {
    const file = this.file(id);
    try {
      await rm(file);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
  }
}

export function parseConversation(id: string, file: string, text: string): Conversation {
  const lines = text.split('\n');
  const messages: StoredMessage[] = [];
  const warnings: string[] = [];
  let createdAt = '';
  for (const [index, line] of lines.entries()) {
    if (line.trim() === '') continue;
    let record: Record;
    try {
      record = JSON.parse(line) as Record;
    } catch {
      const isLast = lines.slice(index + 1).every((l) => l.trim() === '');
      if (isLast) {
        warnings.push(`${file}:${index + 1}: skipped a torn last record (a crash during a write); earlier turns are intact.`);
        continue;
      }
      throw new MaiError(
        ErrorCodes.conversationCorrupt,
        `${file}:${index + 1}: this line is not a valid record, so the conversation cannot be read safely. Mai leaves the file as it is: fix or remove that line by hand.`,
        { data: { file, line: index + 1 } },
      );
    }
    if (record.type === 'meta') createdAt = record.createdAt;
    else if (record.type === 'message') messages.push(record.message);
  }
  const updatedAt = messages.at(-1)?.at ?? createdAt;
  return { id, messages, createdAt: createdAt || updatedAt, updatedAt, warnings };
}
