/**
 * How a connection to the host opens, read before anything is served: a hello line (a forwarder or
 * the CLI), JSON-RPC at once (a direct client), or something to refuse — with why, and whether it
 * looked like a hello (then the refusal is a hello line, which a Mai client of any version reads).
 * Silence is judged after `timeoutMs`, once the I/O already due has been read.
 */
import type { Socket } from 'node:net';
import { openingOf, parseHello, type ClientHello } from './wire.ts';

const MAX_HELLO = 4096;
const FACES: ReadonlyArray<string> = ['mai', 'mcp'];

export type Opening =
  | { kind: 'hello'; hello: ClientHello; rest: Buffer }
  | { kind: 'json-rpc'; rest: Buffer }
  | { kind: 'refused'; why: string; asHello: boolean };

/** The hello's fields that the host relies on, or what is wrong with them. */
function checkHello(hello: ClientHello): string | null {
  const { face, name } = hello as { face?: unknown; name?: unknown };
  if (face !== undefined && (typeof face !== 'string' || !FACES.includes(face))) return `the hello asks for the face ${JSON.stringify(face)}; this host serves "mai" and "mcp"`;
  if (name !== undefined && typeof name !== 'string') return 'the hello\'s "name" is not a string';
  return null;
}

/**
 * Runs `then` once the event loop has polled for I/O: a timer fires before the poll of its loop
 * turn, so a timeout judged at once would miss data or a connection that is already there.
 */
export function afterPendingIO(then: () => void): void {
  setImmediate(then);
}

/** Reads the opening; the socket is left paused, with what followed it in `rest`. */
export function readOpening(socket: Socket, timeoutMs: number): Promise<Opening> {
  let buffered = Buffer.alloc(0);
  return new Promise<Opening>((resolve) => {
    let settled = false;
    const refuse = (why: string, asHello = false) => settle({ kind: 'refused', why, asHello });
    const timer = setTimeout(() => afterPendingIO(() => refuse(`nothing came for ${timeoutMs} ms (host.helloTimeoutMs)`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const first = buffered.findIndex((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09);
      if (first === -1) return;
      const kind = openingOf(buffered[first]!);
      if (kind === 'json-rpc') return settle({ kind: 'json-rpc', rest: buffered });
      if (kind === 'unknown') return refuse(`it does not start with a hello ("MAI-HOST/1 {…}") nor with JSON-RPC ("{", "[" or "Content-Length")`);
      const newline = buffered.indexOf(0x0a);
      if (newline === -1) return buffered.length > MAX_HELLO ? refuse(`the hello line is longer than ${MAX_HELLO} bytes`, true) : undefined;
      const hello = parseHello<ClientHello>(buffered.subarray(0, newline).toString('utf8').trim());
      if (typeof hello === 'string') return refuse(hello, true);
      const wrong = checkHello(hello);
      if (wrong) return refuse(wrong, true);
      settle({ kind: 'hello', hello, rest: buffered.subarray(newline + 1) });
    };
    const onEnd = () => refuse('it closed before saying anything');
    function settle(value: Opening) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.pause(); // what comes next waits for serveStreams (unshift() gives back what was read)
      socket.off('data', onData);
      socket.off('end', onEnd);
      resolve(value);
    }
    socket.on('data', onData);
    socket.on('end', onEnd);
  });
}
