/**
 * The file-system steps a durable append is made of: one whole write, and an fsync of a folder (so
 * a file's new name survives a crash, not only its content).
 */
import type { Buffer } from 'node:buffer';
import { open, type FileHandle } from 'node:fs/promises';

/** The errno code of a file-system error (ENOENT, EEXIST…), if it has one. */
export const errno = (error: unknown): string | undefined => (error as NodeJS.ErrnoException | null | undefined)?.code;

/** One write of the whole buffer (looping only if the kernel takes part of it). */
export async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  let written = 0;
  while (written < data.length) written += (await handle.write(data, written, data.length - written)).bytesWritten;
}

/** fsyncs a folder, so the names created in it are on disk. */
export async function syncDir(dir: string): Promise<void> {
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
