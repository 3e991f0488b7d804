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

function open(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path, allowHalfOpen: true });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      socket.destroy();
      reject(error.code === 'ENOENT' || error.code === 'ECONNREFUSED' ? new HostAbsent(`no host listens on ${path} (${error.code})`) : error);
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
    const onError = (error: Error) => fail(error);
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
