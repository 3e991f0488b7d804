/**
 * A test's side of one JSON-RPC byte stream, in either framing, with its own parser (independent of
 * rpc/framing.ts): anything the server writes that is not a well-framed JSON message is caught as
 * `garbage`. The same session drives a spawned `mai serve` (rpc-client.ts) and the server linked in
 * this process over an in-memory pair (rpc-link.ts).
 */
import type { Readable, Writable } from 'node:stream';

export type WireFraming = 'ndjson' | 'content-length';

export interface Reply {
  jsonrpc: string;
  id?: string | number | null;
  result?: unknown;
  error?: { code: number; message: string; data?: Record<string, unknown> };
  method?: string;
  params?: unknown;
}

export function frame(framing: WireFraming, text: string): string {
  return framing === 'ndjson' ? `${text}\n` : `Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`;
}

export interface WireSession {
  /** Every message read so far (a batch reply is one array). */
  messages: Array<Reply | Reply[]>;
  /** Bytes that were not a well-framed JSON message. */
  garbage: string[];
  /** Sends a value as JSON (or a string as is) in the session's framing. */
  send(message: unknown): void;
  writeRaw(text: string): void;
  /** Sends a request with a fresh id and waits for its reply (15 s unless `timeoutMs` says otherwise). */
  request(method: string, params?: unknown, timeoutMs?: number): Promise<Reply>;
  /** Waits for the first message (from now on, or already read) that matches. */
  waitFor(match: (message: Reply | Reply[]) => boolean, timeoutMs?: number): Promise<Reply | Reply[]>;
}

/** Reads `from`, writes `to`; `describe()` adds what a timeout should show (e.g. the server's stderr). */
export function wireSession(framing: WireFraming, from: Readable, to: Writable, describe: () => string = () => ''): WireSession & { closed: Promise<void> } {
  const messages: Array<Reply | Reply[]> = [];
  const garbage: string[] = [];
  const waiters: Array<{ match: (m: Reply | Reply[]) => boolean; resolve: (m: Reply | Reply[]) => void }> = [];
  let buffer = Buffer.alloc(0);
  let nextId = 1000;
  const deliver = (text: string) => {
    let message: Reply | Reply[];
    try {
      message = JSON.parse(text) as Reply | Reply[];
    } catch {
      garbage.push(text);
      return;
    }
    messages.push(message);
    for (const waiter of [...waiters]) {
      if (waiter.match(message)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(message);
      }
    }
  };
  const parse = () => {
    for (;;) {
      if (framing === 'ndjson') {
        const newline = buffer.indexOf(0x0a);
        if (newline === -1) return;
        deliver(buffer.subarray(0, newline).toString('utf8'));
        buffer = buffer.subarray(newline + 1);
        continue;
      }
      const end = buffer.indexOf('\r\n\r\n');
      if (end === -1) return;
      const header = buffer.subarray(0, end).toString('ascii');
      const match = /^Content-Length: (\d+)$/.exec(header);
      if (!match) {
        garbage.push(header);
        buffer = buffer.subarray(end + 4);
        continue;
      }
      const length = Number(match[1]);
      if (buffer.length < end + 4 + length) return;
      deliver(buffer.subarray(end + 4, end + 4 + length).toString('utf8'));
      buffer = buffer.subarray(end + 4 + length);
    }
  };
  from.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    parse();
  });
  const closed = new Promise<void>((done) =>
    from.on('close', () => {
      if (buffer.length > 0) garbage.push(buffer.toString('utf8'));
      buffer = Buffer.alloc(0);
      done();
    }),
  );
  to.on('error', () => {}); // the server may be gone first
  const writeRaw = (text: string) => void to.write(text);
  const send = (message: unknown) => writeRaw(frame(framing, typeof message === 'string' ? message : JSON.stringify(message)));
  const waitFor = (match: (m: Reply | Reply[]) => boolean, timeoutMs = 15_000) =>
    new Promise<Reply | Reply[]>((resolvePromise, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching message within ${timeoutMs} ms; got ${JSON.stringify(messages)}; ${describe()}`)), timeoutMs);
      waiters.push({ match, resolve: (m) => (clearTimeout(timer), resolvePromise(m)) });
    });
  return {
    messages,
    garbage,
    send,
    writeRaw,
    async request(method, params, timeoutMs) {
      const id = nextId++;
      const reply = waitFor((m) => !Array.isArray(m) && m.id === id && m.method === undefined, timeoutMs);
      send({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) });
      return (await reply) as Reply;
    },
    waitFor,
    closed,
  };
}
