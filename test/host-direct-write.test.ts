/**
 * The forwarder's writes (rpc/host/direct-write.ts): one write(2) on the socket's descriptor while
 * the stream has no queue, the stream for what the descriptor does not take. The bytes must arrive
 * whole and in order when the reader falls behind (EAGAIN, partial writes, then the stream's queue
 * and writes behind it), and a reader that is gone is the stream's error, as a stream write's is.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { descriptorOf, directWriter } from '../rpc/host/direct-write.ts';
import { tempDir, type TempDir } from './support/harness.ts';

let dir: TempDir | undefined;
let server: Server | undefined;
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
  await dir?.cleanup();
  dir = undefined;
});

/** A connected pair of Unix sockets: the writer's end and the reader's (paused). */
async function socketPair(): Promise<{ writer: Socket; reader: Socket }> {
  dir = await tempDir('mai-direct-write-');
  const path = join(dir.path, 's.sock');
  const accepted = new Promise<Socket>((resolve) => {
    server = createServer({ pauseOnConnect: true }, resolve);
  });
  await new Promise<void>((resolve) => server!.listen(path, resolve));
  // Half-open, as the forwarder's sockets are: the peer's end leaves the writer writable (its writes then fail).
  const writer = connect({ path, allowHalfOpen: true });
  await new Promise((resolve) => writer.once('connect', resolve));
  const reader = await accepted;
  sockets.push(writer, reader);
  return { writer, reader };
}

/** Everything the reader gets, once it has `length` bytes. */
function receiveAll(reader: Socket, length: number): Promise<Buffer> {
  const received: Buffer[] = [];
  let bytes = 0;
  return new Promise((resolve) => {
    reader.on('data', (chunk: Buffer) => {
      received.push(chunk);
      bytes += chunk.length;
      if (bytes >= length) resolve(Buffer.concat(received));
    });
  });
}

describe('direct writes to a socket', () => {
  it('keeps every byte in order while the reader falls behind and catches up', async () => {
    const { writer, reader } = await socketPair();
    if (!('Deno' in globalThis)) expect(descriptorOf(writer)).toBeGreaterThanOrEqual(0);
    const write = directWriter(writer, descriptorOf(writer));
    // ~6 MiB in chunks of odd sizes, far beyond what a Unix socket buffers, written while nobody reads.
    const chunks: Buffer[] = [];
    for (let i = 0; i < 400; i++) chunks.push(Buffer.alloc(1 + ((i * 7919) % 30_000), i % 251));
    const expected = Buffer.concat([...chunks, Buffer.from('and a string last')]);
    const all = receiveAll(reader, expected.length);
    for (const chunk of chunks.slice(0, 200)) write(chunk);
    expect(writer.writableLength).toBeGreaterThan(0); // the descriptor took what it could, the stream holds the rest
    // The rest while the reader drains the socket: the descriptor has room again before the stream's queue is gone.
    reader.resume();
    for (const chunk of chunks.slice(200)) {
      write(chunk);
      await new Promise((resolve) => setImmediate(resolve));
    }
    write('and a string last');
    expect((await all).equals(expected)).toBe(true);
  });

  it('copies what it leaves to the stream: a caller may read into its buffer again once the call returns', async () => {
    const { writer, reader } = await socketPair();
    const write = directWriter(writer, descriptorOf(writer));
    const read = Buffer.alloc(30_000); // one buffer, as the forwarder's onread reads into
    const expected: Buffer[] = [];
    for (let i = 0; i < 100; i++) {
      const part = read.subarray(0, 1 + ((i * 7919) % 30_000));
      part.fill(i % 251);
      expected.push(Buffer.from(part));
      write(part);
    }
    expect(writer.writableLength).toBeGreaterThan(0); // the socket is full: the stream holds the rest
    const want = Buffer.concat(expected);
    const all = receiveAll(reader, want.length);
    reader.resume();
    expect((await all).equals(want)).toBe(true);
  });

  it('writes at once again once the stream has caught up', async () => {
    const { writer, reader } = await socketPair();
    const write = directWriter(writer, descriptorOf(writer));
    const received: Buffer[] = [];
    reader.on('data', (chunk: Buffer) => received.push(chunk));
    reader.resume();
    write(Buffer.from('one,'));
    expect(writer.writableLength).toBe(0); // nothing queued: the bytes went straight to the socket
    write(Buffer.from('two'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(Buffer.concat(received).toString()).toBe('one,two');
  });

  it('a reader that is gone is the stream\'s error', async () => {
    const { writer, reader } = await socketPair();
    const write = directWriter(writer, descriptorOf(writer));
    const failed = new Promise<Error>((resolve) => writer.once('error', resolve));
    reader.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    // The first write after the peer closed may still be taken by the kernel; a later one fails.
    for (let i = 0; i < 20 && !writer.destroyed; i++) {
      write(Buffer.alloc(1024, 1));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const error = (await failed) as NodeJS.ErrnoException;
    expect(['EPIPE', 'ECONNRESET']).toContain(error.code);
    expect(writer.destroyed).toBe(true);
    write(Buffer.from('after')); // nothing thrown: nobody reads
  });
});
