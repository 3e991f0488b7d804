/**
 * How the forwarder writes a chunk on (to its client's stdout, to the host's socket): with one
 * write(2) on the stream's file descriptor, at once, when the stream has nothing queued — none of
 * the stream's machinery (Writable's queue, the write request, its callback on the next tick)
 * between the read of a message and its write. In a relay that reads with `onread`, one message
 * every 10 ms: 126–145 → 105–119 µs of CPU a message at load ~17. What the descriptor does not
 * take now (EAGAIN: its reader is behind; part of a chunk) goes through the stream, and so does
 * every chunk after it until the stream's queue is empty again, so the bytes keep their order. A
 * failed write (EPIPE: the reader is gone) destroys the stream with its error, as the stream's own
 * write would. Without a descriptor (an in-memory stream, Deno) the stream writes. The chunk may be
 * a view of the caller's read buffer, read into again once the call returns (net's `onread`,
 * connect.ts and client-bytes.ts): what is left to the stream is copied, and only that, so a
 * message written at once is never copied.
 */
import { writeSync } from 'node:fs';
import type { Writable } from 'node:stream';

/** Writes a chunk (the caller may reuse its bytes once the call returns). */
export type ChunkWriter = (chunk: Buffer | string) => void;

/** What the stream is handed: a copy of a buffer's bytes (the stream keeps it until written). */
const owned = (chunk: Buffer | string) => (typeof chunk === 'string' ? chunk : Buffer.from(chunk));

/** The file descriptor under a net.Socket (Node's handle has it on Unix), or undefined. */
export function descriptorOf(stream: Writable): number | undefined {
  const fd = (stream as Writable & { _handle?: { fd?: unknown } | null })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

export function directWriter(stream: Writable, fd: number | undefined): ChunkWriter {
  if (fd === undefined || 'Deno' in globalThis) return (chunk) => void stream.write(owned(chunk));
  return (chunk) => {
    if (stream.destroyed) return; // its error was reported; nobody reads
    if (stream.writableLength > 0 || chunk.length === 0) {
      stream.write(owned(chunk)); // behind what waits
      return;
    }
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let written = 0;
    try {
      written = writeSync(fd, bytes);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EAGAIN' && code !== 'EWOULDBLOCK') {
        stream.destroy(error as Error);
        return;
      }
    }
    if (written < bytes.length) stream.write(Buffer.from(bytes.subarray(written)));
  };
}
