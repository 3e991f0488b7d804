/**
 * Conversations on disk: one append-only JSON-lines file each, in the state directory.
 *
 * A finished turn is appended as ONE write followed by fsync (and an fsync of the directory when
 * the file is new), under a cross-process lock (proper-lockfile), so two Mai processes never
 * interleave records and a crash at any instant loses at most the turn in flight. Each record of a
 * turn carries the turn's id and the last one says so: a turn torn by a crash is skipped on read
 * and reported, never half-kept. An append after a torn tail first closes the torn line and marks
 * it, so the file stays readable. Any other unreadable line is an error naming file and line.
 * Files are never rewritten; only `delete` removes one.
 */
import { randomUUID } from 'node:crypto';
import { Buffer } from 'node:buffer';
import { mkdir, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import lockfile from 'proper-lockfile';
import { ErrorCodes, MaiError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Conversation, ConversationSummary, StoredMessage } from './message.ts';
import { parseConversation, type ConversationRecord } from './conversation-file.ts';

const ID = /^[A-Za-z0-9._-]{1,128}$/;
/** A lock older than this is taken over (its holder died); held only for one write + fsync. */
const STALE_MS = 10_000;

async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Some platforms cannot fsync a directory; the file's own fsync still holds.
  }
}

export class ConversationStore {
  constructor(
    readonly dir: string,
    private readonly log?: Logger,
  ) {}

  newId(): string {
    return randomUUID();
  }

  file(id: string): string {
    if (!ID.test(id) || id.startsWith('.')) {
      throw new MaiError(ErrorCodes.invalidParams, `"${id}" is not a valid conversation id: use 1–128 letters, digits, ".", "_" or "-", not starting with ".".`, {
        data: { conversationId: id },
      });
    }
    return join(this.dir, `${id}.jsonl`);
  }

  /** Where summaries of this conversation's older turns are cached (deleted with it). */
  summaryFile(id: string): string {
    return join(this.dir, '.summaries', `${id}.jsonl`);
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

  /** Appends one finished turn's messages as one write, then fsyncs; creates the file with its header when new. */
  async append(id: string, messages: ReadonlyArray<StoredMessage>): Promise<void> {
    if (messages.length === 0) return;
    const file = this.file(id);
    const created = await mkdir(this.dir, { recursive: true });
    if (created) await syncDir(dirname(created));
    const release = await this.lock(file);
    try {
      const handle = await open(file, 'a+');
      let isNew = false;
      try {
        const { size } = await handle.stat();
        isNew = size === 0;
        const records: ConversationRecord[] = [];
        let prefix = '';
        if (isNew) {
          records.push({ type: 'meta', id, createdAt: messages[0]?.at ?? new Date().toISOString() });
        } else {
          const last = Buffer.alloc(1);
          await handle.read(last, 0, 1, size - 1);
          // A crash tore the last record: end that line and mark it, so it is skipped, not taken for corruption.
          if (last[0] !== 0x0a) prefix = `\n${JSON.stringify({ type: 'torn', at: new Date().toISOString() })}\n`;
        }
        const turn = randomUUID();
        messages.forEach((message, i) => records.push({ type: 'message', turn, ...(i === messages.length - 1 ? { last: true } : {}), message }));
        const data = Buffer.from(prefix + records.map((r) => `${JSON.stringify(r)}\n`).join(''), 'utf8');
        let written = 0;
        while (written < data.length) written += (await handle.write(data, written, data.length - written)).bytesWritten;
        await handle.sync();
      } finally {
        await handle.close();
      }
      if (isNew) await syncDir(this.dir);
    } catch (error) {
      throw error instanceof MaiError
        ? error
        : new MaiError(ErrorCodes.internal, `Could not save the turn to ${file}: ${(error as Error).message}. The answer was not stored.`, { cause: error, data: { file } });
    } finally {
      await release();
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
    for (const name of names.filter((n) => n.endsWith('.jsonl') && !n.startsWith('.')).sort()) {
      const id = name.slice(0, -'.jsonl'.length);
      try {
        const conversation = await this.load(id);
        if (!conversation) continue;
        const firstUser = conversation.messages.find((m) => m.role === 'user');
        out.push({
          id,
          messages: conversation.messages.length,
          createdAt: conversation.createdAt,
          updatedAt: conversation.updatedAt,
          title: (firstUser?.text ?? '').slice(0, 80),
        });
      } catch (error) {
        out.push({ id, messages: 0, createdAt: '', updatedAt: '', title: '', error: (error as Error).message });
      }
    }
    return out.sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
  }

  /** Deletes a conversation and its cached summaries; false when there was none. */
  async delete(id: string): Promise<boolean> {
    const file = this.file(id);
    try {
      await stat(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    }
    const release = await this.lock(file);
    try {
      await rm(this.summaryFile(id), { force: true });
      await rm(file);
      await syncDir(this.dir);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    } finally {
      await release();
    }
  }

  private async lock(file: string): Promise<() => Promise<void>> {
    try {
      return await lockfile.lock(file, {
        realpath: false,
        stale: STALE_MS,
        retries: { retries: 200, factor: 1.3, minTimeout: 5, maxTimeout: 100 },
        onCompromised: (error) => this.log?.warn(`the lock on ${file} was lost while writing`, error),
      });
    } catch (error) {
      throw new MaiError(ErrorCodes.internal, `Could not lock ${file} to write to it: ${(error as Error).message}. Another process may be holding it; it is taken over after ${STALE_MS / 1000} s.`, {
        cause: error,
        retryable: false,
        data: { file },
      });
    }
  }
}
