/**
 * A client's side of the host's socket: connect, exchange hellos, and say why it failed — no host
 * (absent: start one), or a host that refuses (another version). Free of zod and Mai's core.
 */
import { connect, type Socket } from 'node:net';
import { maiVersion } from '../version.ts';
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

function open(path: string, busy = 0): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const socket = connect({ path, allowHalfOpen: true });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      socket.destroy();
      if (error.code === 'EAGAIN' && busy < BUSY_RETRIES) {
        setTimeout(() => open(path, busy + 1).then(resolve, reject), 10 * (busy + 1));
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

/** Connects and exchanges hellos; the socket is paused with nothing of the protocol read yet. */
export async function connectHost(path: string, face: Face, name: string, clientInfo?: ClientHello['clientInfo']): Promise<HostConnection> {
  const socket = await open(path);
  const hello: ClientHello = { face, version: maiVersion(), name, pid: process.pid, ...(clientInfo ? { clientInfo } : {}) };
  socket.write(helloLine(hello));
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const fail = (error: Error) => {
      cleanup();
      socket.destroy();
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const newline = buffered.indexOf(0x0a);
      if (newline === -1) return;
      cleanup();
      socket.pause();
      const reply = parseHello<HostHello>(buffered.subarray(0, newline).toString('utf8').trim());
      const rest = buffered.subarray(newline + 1);
      if (rest.length > 0) socket.unshift(rest);
      if (typeof reply === 'string') return fail(new HostRefused(`the host on ${path} answered no hello: ${reply}`));
      if (!reply.ok) return fail(new HostRefused(`the host on ${path} (pid ${reply.pid}) refused: ${reply.error}`));
      resolve({ socket, hello: reply });
    };
    const onEnd = () => fail(new HostAbsent(`the host on ${path} closed the connection before its hello`));
    const onError = (error: NodeJS.ErrnoException) => fail(classify(error, path, 'before its hello'));
    function cleanup() {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
    }
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
  });
}
