/**
 * Where the forwarder reads its client's bytes: any stream (its 'data'), or — in `mai serve`'s own
 * process, on Node, when stdin is a socket or a pipe (an editor's socketpair, a shell's pipe) —
 * file descriptor 0 read with net's `onread` into one buffer of its own, as the host's side is
 * read (connect.ts). process.stdin's 'data' cost a 64 KiB buffer and the stream machinery per
 * read: ~20 µs of CPU per message in a bare relay (60 → 40 µs a message at load ~17), on the
 * turn's path (the forwarder reads the request, then writes it to the host).
 */
import { fstatSync } from 'node:fs';
import { Socket, type OnReadOpts, type SocketConstructorOpts } from 'node:net';
import type { Readable } from 'node:stream';

/** A client's bytes, chunk by chunk, until their end. */
export interface ClientBytes {
  /**
   * Hands each chunk to `chunk`, then calls `end` once (end of input, or its failure); returns
   * what stops reading. A chunk is valid during the call only (a view of the read buffer, read
   * into again after it): the receiver copies what it keeps.
   */
  receive(chunk: (bytes: Buffer) => void, end: () => void): () => void;
}

/** The size of the read buffer (a read takes at most this much). */
const READ_BYTES = 64 * 1024;

/**
 * net's `onread` into one buffer of its own, read into again after each call: each read is
 * handed on as a view of it (the receiver copies what it keeps).
 */
export function readInto(onBytes: (chunk: Buffer) => void): OnReadOpts {
  const buffer = Buffer.allocUnsafe(READ_BYTES);
  return {
    buffer,
    callback: (bytes: number) => {
      onBytes(buffer.subarray(0, bytes));
      return true;
    },
  };
}

/** A stream's bytes ('data', then 'end' or 'close'). */
export function streamBytes(input: Readable): ClientBytes {
  return {
    receive(chunk, end) {
      const onData = (bytes: Buffer | string) => chunk(typeof bytes === 'string' ? Buffer.from(bytes) : bytes);
      input.on('data', onData);
      input.on('end', end);
      input.on('close', end);
      return () => {
        input.off('data', onData);
        input.off('end', end);
        input.off('close', end);
      };
    },
  };
}

/**
 * The process's stdin read with `onread`, or null where that does not apply (Deno; a TTY, a file,
 * nothing open): the caller reads process.stdin then. Must be called before anything touches
 * process.stdin (a second handle on fd 0 would compete for its bytes).
 */
export function stdinBytes(): ClientBytes | null {
  if ('Deno' in globalThis) return null;
  try {
    const stat = fstatSync(0);
    if (!stat.isSocket() && !stat.isFIFO()) return null;
  } catch {
    return null;
  }
  return {
    receive(chunk, end) {
      let ended = false;
      const once = () => {
        if (ended) return;
        ended = true;
        end();
      };
      // Node's constructor takes `onread` as connect() does (since v12); its types declare it for connect() only.
      const options: SocketConstructorOpts & { onread: OnReadOpts } = {
        fd: 0,
        readable: true,
        writable: false,
        onread: readInto((bytes) => {
          if (!ended) chunk(bytes);
        }),
      };
      const socket = new Socket(options);
      socket.on('end', once);
      socket.on('close', once);
      socket.on('error', once); // a failed read ends the input, as its end does ('close' follows)
      return () => {
        ended = true;
        socket.destroy(); // libuv never closes fds 0–2 themselves
      };
    },
  };
}
