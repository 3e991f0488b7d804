/**
 * A new conversation's file, created (empty, exclusively: 'ax') while the model answers the turn,
 * so that storing the answer is one write to an open file instead of a file creation on the way to
 * the reply: creating a file was most of the store's share of a turn (0.5–1.6 ms on this project's
 * machines, against 0.05–0.1 ms for the write).
 *
 * An empty conversation file is read as no conversation (conversation-store.ts), so a crash before
 * the answer is stored loses nothing and shows nothing; a turn that stores nothing removes it
 * (`discard`). The guarantee is unchanged: the reply comes after the turn is written.
 */
import { fstatSync } from 'node:fs';
import { stat, unlink, type FileHandle } from 'node:fs/promises';
import type { Logger } from '../log.ts';
import { lockForWriting } from './durable-file.ts';

export class ReservedFile {
  private used = false;

  /** `opening`: the file's exclusive creation, already under way. */
  constructor(
    readonly file: string,
    private readonly opening: Promise<FileHandle>,
    private readonly log?: Logger,
  ) {
    opening.catch(() => undefined); // a failed creation is handled by whoever takes it (or discards it)
  }

  /**
   * The created file's handle, empty, for the first turn's write (the caller owns it from now on);
   * null when it could not be created (another process created it first: the turn appends under
   * the lock; any other failure shows again, with its cause, on that path) or was removed meanwhile
   * (`conversations/delete` while the first turn ran: the turn's file is made again).
   */
  async take(): Promise<FileHandle | null> {
    if (this.used) return null;
    this.used = true;
    let handle: FileHandle;
    try {
      handle = await this.opening;
    } catch {
      return null;
    }
    if (fstatSync(handle.fd).nlink > 0) return handle;
    await handle.close().catch(() => undefined);
    return null;
  }

  /**
   * The turn stored nothing: the file is removed if it is still empty and still this one (another
   * process that knew the id may have appended to it meanwhile, under the lock, which this takes too).
   */
  async discard(): Promise<void> {
    if (this.used) return;
    this.used = true;
    let handle: FileHandle;
    try {
      handle = await this.opening;
    } catch {
      return; // nothing was created
    }
    try {
      const release = await lockForWriting(this.file, this.log);
      try {
        const [mine, named] = await Promise.all([handle.stat(), stat(this.file).catch(() => null)]);
        if (mine.size === 0 && named?.ino === mine.ino && named.dev === mine.dev) await unlink(this.file);
      } finally {
        await release();
      }
    } catch (error) {
      // Left behind it is harmless: an empty file reads as no conversation.
      this.log?.debug(`could not remove the unused file ${this.file}`, error);
    } finally {
      await handle.close().catch(() => undefined);
    }
  }
}
