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
import { stat, unlink } from 'node:fs/promises';
import type { Logger } from '../log.ts';
import { closeQuietly, lockForWriting, statFile } from './durable-file.ts';

export class ReservedFile {
  private used = false;

  /** `opening`: the file's exclusive creation, already under way (its descriptor). */
  constructor(
    readonly file: string,
    private readonly opening: Promise<number>,
    private readonly log?: Logger,
  ) {
    opening.catch(() => undefined); // a failed creation is handled by whoever takes it (or discards it)
  }

  /**
   * The created file's descriptor, empty, for the first turn's write (the caller closes it);
   * null when it could not be created (another process created it first: the turn appends under
   * the lock; any other failure shows again, with its cause, on that path) or was removed meanwhile
   * (`conversations/delete` while the first turn ran: the turn's file is made again).
   */
  async take(): Promise<number | null> {
    if (this.used) return null;
    this.used = true;
    let fd: number;
    try {
      fd = await this.opening;
    } catch {
      return null;
    }
    if (fstatSync(fd).nlink > 0) return fd;
    closeQuietly(fd);
    return null;
  }

  /**
   * The turn stored nothing: the file is removed if it is still empty and still this one (another
   * process that knew the id may have appended to it meanwhile, under the lock, which this takes too).
   */
  async discard(): Promise<void> {
    if (this.used) return;
    this.used = true;
    let fd: number;
    try {
      fd = await this.opening;
    } catch {
      return; // nothing was created
    }
    try {
      const release = await lockForWriting(this.file, this.log);
      try {
        const [mine, named] = await Promise.all([statFile(fd), stat(this.file).catch(() => null)]);
        if (mine.size === 0 && named?.ino === mine.ino && named.dev === mine.dev) await unlink(this.file);
      } finally {
        await release();
      }
    } catch (error) {
      // Left behind it is harmless: an empty file reads as no conversation.
      this.log?.debug(`could not remove the unused file ${this.file}`, error);
    } finally {
      closeQuietly(fd);
    }
  }
}
