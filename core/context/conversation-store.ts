/**
 * Conversations on disk: one append-only JSON-lines file each, in the state directory. How a turn
 * is written (one write, fsync, the cross-process lock, exclusive creation of a new file) is
 * turn-writer.ts; this names the files, reads, lists and deletes them. Each record of a turn carries
 * the turn's id and the last one says so: a turn torn by a crash is skipped on read and reported,
 * never half-kept. Any other unreadable line is an error naming file and line. Files are never
 * rewritten; only `delete` removes one.
 */
import { randomUUID } from 'node:crypto';
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_FSYNC, type FsyncMode } from '../config/schema.ts';
import { errno, ErrorCodes, MaiError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Conversation, ConversationSummary, StoredMessage } from './message.ts';
import { parseConversation } from './conversation-file.ts';
import { decodeConversation } from './decode-file.ts';
import { ConversationIndex, type ConversationPage } from './conversation-index.ts';

/** conversations/list's page size when the client names none. */
export const DEFAULT_PAGE = 100;
import { lockForWriting, syncDir } from './durable-file.ts';
import type { ReservedFile } from './reserved-file.ts';
import { TurnWriter } from './turn-writer.ts';

const ID = /^[A-Za-z0-9._-]{1,128}$/;
/** How many not-yet-written ids are remembered (turns that fail never write theirs). */
const MAX_UNBORN = 10_000;

export class ConversationStore {
  /** Ids with no file yet, as far as this process knows: minted here, or found missing by `load`. */
  private readonly unborn = new Set<string>();
  private readonly writer: TurnWriter;
  private readonly index: ConversationIndex;

  /** `fsync` (default: the config's, context.fsync): before-reply makes `append` return only once the turn is fsynced (turn-writer.ts). */
  constructor(
    readonly dir: string,
    private readonly log?: Logger,
    options: { fsync?: FsyncMode } = {},
  ) {
    this.writer = new TurnWriter(dir, log, options.fsync ?? DEFAULT_FSYNC);
    this.index = new ConversationIndex(dir, (id) => this.summary(id), log);
  }

  /** How many appended turns are written but not yet fsynced (only with after-reply). */
  get syncing(): number {
    return this.writer.syncing;
  }

  /** How many times the folder was fsynced for new conversations' names (they share one when created together). */
  get folderSyncs(): number {
    return this.writer.folderSyncs;
  }

  /** Resolves once every turn appended so far is fsynced. */
  settled(): Promise<void> {
    return this.writer.settled();
  }

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

  /**
   * Reads a conversation; null when it does not exist (an empty file is one whose first turn is not
   * stored yet, or never was). `showEmpty`: an empty file reads as a conversation with no messages
   * and a warning saying why (what conversations/get shows a user who asks for it by id).
   */
  async load(id: string, options: { showEmpty?: boolean } = {}): Promise<Conversation | null> {
    const file = this.file(id);
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (error) {
      if (errno(error) === 'ENOENT') {
        this.rememberUnborn(id);
        return null;
      }
      throw new MaiError(ErrorCodes.conversationCorrupt, `Cannot read ${file}: ${(error as Error).message}`, { cause: error, data: { file } });
    }
    if (bytes.length === 0) {
      this.rememberUnborn(id);
      if (!options.showEmpty) return null;
    } else {
      this.unborn.delete(id);
    }
    const { text, warnings } = decodeConversation(file, bytes);
    const conversation = parseConversation(id, file, text);
    return warnings.length === 0 ? conversation : { ...conversation, warnings: [...warnings, ...conversation.warnings] };
  }

  /**
   * For a conversation with no file yet: starts creating it (empty) now, while the model answers, so
   * that `append` only writes (reserved-file.ts); null for one that has a file. Pass it to `append`,
   * or to `discard` when the turn stores nothing.
   */
  reserve(id: string): ReservedFile | null {
    return this.unborn.has(id) ? this.writer.reserve(this.file(id)) : null;
  }

  /** The turn that reserved this file stores nothing: it is removed if still empty (behind the caller; `settled()` waits). */
  discard(reserved: ReservedFile): void {
    this.writer.discard(reserved);
  }

  /** Appends one finished turn's messages (creating the file with its header when new, or writing to the one reserved); see turn-writer.ts. */
  async append(id: string, messages: ReadonlyArray<StoredMessage>, reserved?: ReservedFile | null): Promise<void> {
    if (messages.length === 0) {
      if (reserved) this.discard(reserved);
      return;
    }
    const file = this.file(id);
    await this.writer.append(id, file, messages, this.unborn.delete(id), reserved);
  }

  private rememberUnborn(id: string): void {
    this.unborn.add(id);
    if (this.unborn.size > MAX_UNBORN) {
      const oldest = this.unborn.values().next().value;
      if (oldest !== undefined) this.unborn.delete(oldest);
    }
  }

  /** One page of the conversations, newest first, from the index (conversation-index.ts). */
  async list(options: { cursor?: string | undefined; limit?: number | undefined } = {}): Promise<ConversationPage> {
    const page = await this.index.page({ cursor: options.cursor, limit: options.limit ?? DEFAULT_PAGE });
    if (page === 'bad-cursor') {
      throw new MaiError(ErrorCodes.invalidParams, 'The cursor is not one conversations/list gave: start again without "cursor".', { retryable: false });
    }
    return page;
  }

  /** One conversation's summary (what list shows); null when it does not exist. */
  private async summary(id: string): Promise<ConversationSummary | null> {
    const conversation = await this.load(id);
    if (!conversation) return null;
    const firstUser = conversation.messages.find((m) => m.role === 'user');
    return {
      id,
      messages: conversation.messages.length,
      createdAt: conversation.createdAt,
      updatedAt: conversation.updatedAt,
      title: (firstUser?.text ?? '').slice(0, 80),
    };
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
    const release = await lockForWriting(file, this.log);
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

}
