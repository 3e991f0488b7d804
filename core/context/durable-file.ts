/**
 * The file-system steps a durable append is made of: one whole write, an fsync of a folder (so a
 * file's new name survives a crash, not only its content), and the fsyncs still running behind a
 * caller that did not wait for them; and the cross-process lock a writer takes.
 *
 * Files are plain descriptors driven by node:fs callbacks, not FileHandles (a promise and an object
 * per call, and a close through libuv's thread pool): a descriptor whose turn is written and fsynced
 * is closed at once on the calling thread (close does not wait for the disk then). A new
 * conversation's file — reserved, written, fsynced, closed, as `mai batch` does per prompt — costs
 * the main thread about 30 µs less that way (225 → 195 µs, 8 at a time, medians of 8 interleaved rounds).
 */
import type { Buffer } from 'node:buffer';
import { closeSync, fstat, fsync, open, read, write, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import { ErrorCodes, MaiError } from '../errors.ts';
import { lockFile } from '../file-lock.ts';
import type { Logger } from '../log.ts';

/**
 * Up to this many bytes are written at once, on the calling thread: a turn's write goes to the page
 * cache in tens of microseconds, less than a round trip through libuv's thread pool (a hand-off and
 * a wake-up each way, 0.1–0.7 ms per turn on this project's loaded 2-core machines), and the reply
 * waits for it either way. Bigger writes go through the pool, so a huge turn never holds the loop.
 */
const WRITE_NOW_BYTES = 64 * 1024;

// node:fs's callbacks, promised (util.promisify: a promise per call, no FileHandle object).
/** Opens `file` (in libuv's thread pool): its descriptor, which the caller must close (`closeFile`). */
export const openFile = promisify(open);
export const fsyncFile = promisify(fsync);
export const statFile = promisify(fstat);
/** Reads into a buffer at a position of the file: `{ bytesRead }`. */
export const readAt = promisify(read);
const writeAt = promisify(write);

/** Closes a descriptor now (the loop does not wait: closing a regular file does not touch the disk). */
export const closeFile = (fd: number): void => closeSync(fd);

/** Closes a descriptor on a path that is failing already: a second error would hide the first. */
export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // the first failure is the one to report
  }
}

/** One write of the whole buffer (looping only if the kernel takes part of it). */
export async function writeAll(fd: number, data: Buffer): Promise<void> {
  let written = 0;
  if (data.length <= WRITE_NOW_BYTES) {
    while (written < data.length) written += writeSync(fd, data, written, data.length - written);
    return;
  }
  while (written < data.length) written += (await writeAt(fd, data, written, data.length - written, null)).bytesWritten;
}

/** fsyncs a folder, so the names created in it are on disk. */
export async function syncDir(dir: string): Promise<void> {
  try {
    const fd = await openFile(dir, 'r');
    try {
      await fsyncFile(fd);
    } finally {
      closeFile(fd);
    }
  } catch {
    // Some platforms cannot fsync a directory; the file's own fsync still holds.
  }
}

/** fsyncs started behind their caller: each is tracked until it ends, so a close can wait for all. */
export class PendingSyncs {
  private readonly pending = new Set<Promise<void>>();

  /** How many are still running. */
  get size(): number {
    return this.pending.size;
  }

  /** Tracks `work`, which must not reject (it reports its own failure). */
  track(work: Promise<void>): void {
    const tracked = work.finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }

  /** Resolves once every tracked fsync (including any started meanwhile) has ended. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}

/** A lock older than this is taken over (its holder stopped refreshing it); held only for one write. */
const STALE_MS = 10_000;

/** Takes the cross-process lock on a conversation's file (core/file-lock.ts); resolves to its release. */
export async function lockForWriting(file: string, log?: Logger): Promise<() => Promise<void>> {
  try {
    return await lockFile(file, {
      stale: STALE_MS,
      retries: { retries: 200, factor: 1.3, minTimeout: 5, maxTimeout: 100 },
      onCompromised: (error) => log?.warn(`the lock on ${file} was lost while writing`, error),
    });
  } catch (error) {
    throw new MaiError(ErrorCodes.internal, `Could not lock ${file} to write to it: ${(error as Error).message}. Another process may be holding it; a lock is taken over once its holder on this machine has ended, or after ${STALE_MS / 1000} s without a sign of life from it.`, {
      cause: error,
      retryable: false,
      data: { file },
    });
  }
}
