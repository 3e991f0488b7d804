/**
 * A client's side of the host's socket: connect, exchange hellos, and say why it failed — no host
 * (absent: start one), or a host that refuses (another version). Free of zod and Mai's core.
 */
import { connect, type Socket } from 'node:net';
import { maiVersion } from '../version.ts';
import { runningBuild } from './build.ts';
import { readInto } from './client-bytes.ts';
import { helloLine, parseHello, type ClientHello, type Face, type HostHello } from './wire.ts';

export class HostAbsent extends Error {
  override readonly name = 'HostAbsent';
}

export class HostRefused extends Error {
  override readonly name = 'HostRefused';
}

export interface HostConnection {
  socket: Socket;
  hello: Extract<HostHello, { ok: true }>;
  /**
   * Where the protocol's bytes from the host go from now on (what came after the hello first). The
   * socket reads into one buffer of its own (net's `onread`) and emits no 'data': each chunk is
   * valid during the call only (a view of that buffer, read into again after it; the receiver
   * copies what it keeps, so a message passed on at once is never copied). A stream's 'data' cost
   * the forwarder a 64 KiB buffer and the stream machinery per read, a quarter of its CPU per
   * message ('end', 'close' and 'error' come as before).
   */
  receive(receiver: (chunk: Buffer) => void): void;
}

/**
 * What a socket error while connecting or reading the hello means. Nobody listens (ENOENT: no
 * socket file; ECONNREFUSED: a stale one, its host dead) or the host went as we came (ECONNRESET,
 * EPIPE: a host killed or stopping closes its listening socket with our connection still in its
 * backlog — its process closes its descriptors one by one, so a client may connect between the
 * close of its last connection and that of its listening socket): absent, start one.
 */
function classify(error: NodeJS.ErrnoException, path: string, when: string): Error {
  if (error.code === 'ENOENT' || error.code === 'ECONNREFUSED') return new HostAbsent(`no host listens on ${path} (${error.code})`);
  if (error.code === 'ECONNRESET' || error.code === 'EPIPE') return new HostAbsent(`the host on ${path} went away ${when} (${error.code}): it stopped or died`);
  return error;
}

/** EAGAIN: the host's backlog is full (it is alive but busy); tried again this many times. */
const BUSY_RETRIES = 20;

function open(path: string, busy = 0, onBytes?: (chunk: Buffer) => void): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const onread = onBytes && readInto(onBytes);
    const socket = connect({ path, allowHalfOpen: true, ...(onread ? { onread } : {}) });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      socket.destroy();
      if (error.code === 'EAGAIN' && busy < BUSY_RETRIES) {
        setTimeout(() => open(path, busy + 1, onBytes).then(resolve, reject), 10 * (busy + 1));
        return;
      }
      reject(classify(error, path, 'as we connected'));
    });
  });
}

/** Whether a host answers on the socket (a stale socket file, its host dead, does not). */
export async function probeHost(path: string): Promise<boolean> {
  try {
    (await open(path)).destroy();
    return true;
  } catch {
    return false;
  }
}

/** Connects and exchanges hellos; the socket is paused, nothing of the protocol handed on, until `receive` is called. */
export async function connectHost(path: string, face: Face, name: string, clientInfo?: ClientHello['clientInfo']): Promise<HostConnection> {
  let receiver: ((chunk: Buffer) => void) | null = null;
  /** The host's bytes until a receiver is set (the hello's, then the protocol's). */
  let early: Buffer[] = [];
  let onHello: (() => void) | null = null;
  const socket = await open(path, 0, (chunk) => {
    if (receiver) return receiver(chunk);
    early.push(Buffer.from(chunk)); // kept: a copy
    onHello?.();
  });
  const hello: ClientHello = { face, version: maiVersion(), name, pid: process.pid, ...(runningBuild ? { build: runningBuild } : {}), ...(clientInfo ? { clientInfo } : {}) };
  socket.write(helloLine(hello));
  return new Promise((resolve, reject) => {
    const fail = (error: Error) => {
      cleanup();
      socket.destroy();
      reject(error);
    };
    const lookForHello = () => {
      const buffered = early.length === 1 ? early[0]! : Buffer.concat(early);
      const newline = buffered.indexOf(0x0a);
      if (newline === -1) return;
      cleanup();
      socket.pause(); // the host's end, or its bytes, wait for the receiver (the forwarder loads meanwhile)
      const reply = parseHello<HostHello>(buffered.subarray(0, newline).toString('utf8').trim());
      const rest = buffered.subarray(newline + 1);
      early = rest.length > 0 ? [rest] : [];
      if (typeof reply === 'string') return fail(new HostRefused(`the host on ${path} answered no hello: ${reply}`));
      // A host of an older build left its socket as it answered: nobody listens there now, start one.
      if (!reply.ok && reply.retired) return fail(new HostAbsent(`the host on ${path} (pid ${reply.pid}) left: ${reply.error}`));
      if (!reply.ok) return fail(new HostRefused(`the host on ${path} (pid ${reply.pid}) refused: ${reply.error}`));
      resolve({
        socket,
        hello: reply,
        receive(to) {
          receiver = to;
          const waiting = early;
          early = [];
          for (const chunk of waiting) to(chunk);
          socket.resume();
        },
      });
    };
    const onEnd = () => fail(new HostAbsent(`the host on ${path} closed the connection before its hello`));
    const onError = (error: NodeJS.ErrnoException) => fail(classify(error, path, 'before its hello'));
    function cleanup() {
      onHello = null;
      socket.off('end', onEnd);
      socket.off('error', onError);
    }
    onHello = lookForHello;
    socket.on('end', onEnd);
    socket.on('error', onError);
    if (early.length > 0) lookForHello();
  });
}
