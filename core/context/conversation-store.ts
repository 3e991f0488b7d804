/**
 * Conversations on disk: one append-only JSON-lines file each, in the state directory.
 *
 * A finished turn is appended as ONE write followed by fsync (and an fsync of the directory when
 * the file is new), under a cross-process lock (proper-lockfile), so two Mai processes never
 * interleave records and a crash at any instant loses at most the turn in flight. The first turn of
 * a conversation known not to exist yet (an id Mai just minted, or one `load` found missing) skips
 * the lock: it creates the file with O_CREAT|O_EXCL|O_APPEND ('ax'), which only one process can win,
 * and writes header and turn in one O_APPEND write; a process that loses that race (EEXIST) takes the
 * locked path. The folder is created once per store (again if it disappears). Each record of a
 * turn carries the turn's id and the last one says so: a turn torn by a crash is skipped on read
 * and reported, never half-kept. An append after a torn tail first closes the torn line and marks
 * it, so the file stays readable. Any other unreadable line is an error naming file and line.
 * Files are never rewritten; only `delete` removes one.
 */
import { randomUUID } from 'node:crypto';
import { Buffer } from 'node:buffer';
import { mkdir, open, readdir, readFile, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import lockfile from 'proper-lockfile';
import { ErrorCodes, MaiError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Conversation, ConversationSummary, StoredMessage } from './message.ts';
import { encodeTurn, parseConversation, type ConversationRecord } from './conversation-file.ts';
import { errno, syncDir, writeAll } from './durable-file.ts';

const ID = /^[A-Za-z0-9._-]{1,128}$/;
/** A lock older than this is taken over (its holder died); held only for one write + fsync. */
const STALE_MS = 10_000;
/** How many not-yet-written ids are remembered (turns that fail never write theirs). */
const MAX_UNBORN = 10_000;

function saveFailed(file: string, error: unknown): MaiError {
  return error instanceof MaiError
    ? error
    : new MaiError(ErrorCodes.internal, `Could not save the turn to ${file}: ${(error as Error).message}. The answer was not stored.`, { cause: error, data: { file } });
}

export class ConversationStore {
  /** Ids with no file yet, as far as this process knows: minted here, or found missing by `load`. */
  private readonly unborn = new Set<string>();
  private dirReady: Promise<void> | null = null;

  constructor(
    readonly dir: string,
    private readonly log?: Logger,
  ) {}

  newId(): string {
    const id = randomUUID();
    this.rememberUnborn(id);
    return id;
  }

  /** True when this conversation has no file yet as far as this process knows (so no summaries either). */
  isNew(id: string): boolean {
    return this.unborn.has(id);
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
      if (errno(error) === 'ENOENT') {
        this.rememberUnborn(id);
        return null;
      }
      throw new MaiError(ErrorCodes.conversationCorrupt, `Cannot read ${file}: ${(error as Error).message}`, { cause: error, data: { file } });
    }
    this.unborn.delete(id);
    return parseConversation(id, file, text);
  }

  /** Appends one finished turn's messages as one write, then fsyncs; creates the file with its header when new. */
  async append(id: string, messages: ReadonlyArray<StoredMessage>): Promise<void> {
    if (messages.length === 0) return;
    const file = this.file(id);
    const turn = randomUUID();
    if (this.unborn.delete(id) && (await this.create(id, file, turn, messages))) return;
    let handle: FileHandle;
    try {
      // Opened before locking, so a removed folder shows as ENOENT now, not after the lock's retries.
      handle = await this.openIn(file, 'a+');
    } catch (error) {
      throw saveFailed(file, error);
    }
    const release = await this.lock(file).catch(async (error: unknown) => {
      await handle.close();
      throw error;
    });
    try {
      let isNew = false;
      try {
        const stats = await handle.stat();
        let size = stats.size;
        if (stats.nlink === 0) {
          // `delete` removed the file between the open and the lock: write to the name, not the old inode.
          const reopened = await open(file, 'a+');
          await handle.close();
          handle = reopened;
          ({ size } = await handle.stat());
        }
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
        await writeAll(handle, encodeTurn(prefix, records, turn, messages));
        await handle.sync();
      } finally {
        await handle.close();
      }
      if (isNew) await syncDir(this.dir);
    } catch (error) {
      throw saveFailed(file, error);
    } finally {
      await release();
    }
  }

  /**
   * The first turn of a conversation with no file yet, without the lock: 'ax' creation is exclusive,
   * so no other process can be writing a header or checking a torn tail of this file, and one
   * O_APPEND write cannot interleave with another's. False when the file exists after all (another
   * process won the race): the caller appends under the lock.
   */
  private async create(id: string, file: string, turn: string, messages: ReadonlyArray<StoredMessage>): Promise<boolean> {
    let handle: FileHandle;
    try {
      handle = await this.openIn(file, 'ax');
    } catch (error) {
      if (errno(error) === 'EEXIST') return false;
      throw saveFailed(file, error);
    }
    try {
      try {
        await writeAll(handle, encodeTurn('', [{ type: 'meta', id, createdAt: messages[0]?.at ?? new Date().toISOString() }], turn, messages));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await syncDir(this.dir); // the new name must survive a crash too
    } catch (error) {
      throw saveFailed(file, error);
    }
    return true;
  }

  /** Opens a file of the folder, making the folder first (once per store, and again if it was removed). */
  private async openIn(file: string, flags: 'a+' | 'ax'): Promise<FileHandle> {
    await this.ensureDir();
    try {
      return await open(file, flags);
    } catch (error) {
      if (errno(error) !== 'ENOENT') throw error;
      await this.ensureDir(true);
      return open(file, flags);
    }
  }

  /** mkdir -p once per store (and again when `again`: the folder was removed meanwhile). */
  private ensureDir(again = false): Promise<void> {
    if (again || !this.dirReady) {
      const making = mkdir(this.dir, { recursive: true }).then(async (created) => {
        if (created) await syncDir(dirname(created));
      });
      this.dirReady = making;
      making.catch(() => {
        if (this.dirReady === making) this.dirReady = null;
      });
    }
    return this.dirReady;
  }

  private rememberUnborn(id: string): void {
    this.unborn.add(id);
    if (this.unborn.size > MAX_UNBORN) {
      const oldest = this.unborn.values().next().value;
      if (oldest !== undefined) this.unborn.delete(oldest);
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
    this.unborn.delete(id);
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
