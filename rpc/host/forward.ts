/**
 * The forwarder: what `mai serve` (and the CLI) is when a host serves its config — the client's
 * bytes to the host's socket and back, untouched (the host detects the framing). It reads the
 * frames on the side only to know which requests await a reply (the host's through reply-ids.ts,
 * which passes over notifications undecoded): if the host dies, each of those gets a clear
 * retryable error in the client's framing, and the next message reaches a new host (started if
 * need be) under the same client name. Loads neither zod, the schemas nor Mai's core.
 */
import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { encodeFrame, FrameDecoder } from '../framing.ts';
import type { HostAddress } from './address.ts';
import { streamBytes, type ClientBytes } from './client-bytes.ts';
import { descriptorOf, directWriter, type ChunkWriter } from './direct-write.ts';
import { reachHost, type ReachOptions } from './start.ts';
import { ReplyIds } from './reply-ids.ts';
import { hostLostReply } from './wire.ts';
import type { HostConnection } from './connect.ts';

export interface ForwardOptions extends ReachOptions {
  /** The client's bytes: a stream, or `mai serve`'s stdin read with `onread` (client-bytes.ts). */
  input: Readable | ClientBytes;
  output: Writable;
  address: HostAddress;
  /** The first connection, already made (the caller reached the host to choose between forwarding and standalone). */
  connection: HostConnection;
  /** Settles when the client is seen gone without a write (rpc/client-gone.ts): the connection ends, so the host cancels this client's turns. */
  gone?: Promise<unknown>;
}

export interface ForwardOutcome {
  /** exit: the client sent `exit` and the host closed its connection (code 0 after `shutdown`, else 1, as LSP has it). */
  reason: 'eof' | 'exit' | 'output-closed' | 'client-gone';
  code: number;
}

type Id = string | number;

/** Request ids (and `initialize`'s clientInfo) in a frame the client sent. */
function requestsIn(text: string, found: (id: Id, message: Record<string, unknown>) => void, notified: (method: string) => void): void {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return; // the host answers it (-32700)
  }
  for (const message of Array.isArray(value) ? value : [value]) {
    if (typeof message !== 'object' || message === null) continue;
    const { id, method } = message as { id?: unknown; method?: unknown };
    if (typeof method !== 'string') continue;
    if (typeof id === 'string' || typeof id === 'number') found(id, message as Record<string, unknown>);
    else notified(method);
  }
}

export function forward(options: ForwardOptions): Promise<ForwardOutcome> {
  const { input, output, address, connection: first, gone: clientGone, ...reachOptions } = options;
  const warn = options.warn ?? ((text: string) => process.stderr.write(text));
  // Awaiting their reply (7 and "7" are two ids, and two keys of a Set).
  const pending = new Set<Id>();
  let clientInfo = reachOptions.clientInfo;
  // `exit` ends the session: when the host then closes the connection, the forwarder exits too.
  let shutdownSent = false;
  let exitSent = false;
  const fromClient = new FrameDecoder({
    frame: (text) =>
      requestsIn(text, (id, message) => {
        pending.add(id);
        if (message.method === 'shutdown') shutdownSent = true;
        if (message.method === 'initialize') {
          const info = (message.params as { clientInfo?: unknown } | undefined)?.clientInfo as { name?: unknown; version?: unknown } | undefined;
          if (info && typeof info.name === 'string') clientInfo = { name: info.name, ...(typeof info.version === 'string' ? { version: info.version } : {}) };
        }
      }, (method) => {
        if (method === 'exit') exitSent = true;
      }),
    badFrame: () => {},
  });

  // The bytes go out in one write(2) each, at once (direct-write.ts).
  const toClient = directWriter(output, descriptorOf(output));
  return new Promise((resolve) => {
    let socket: Socket | null = null;
    let toHost: ChunkWriter = (chunk) => void socket?.write(chunk);
    let reaching: Promise<Socket | null> | null = null;
    let inputEnded = false;
    let finished = false;
    let stopReading = () => {};
    const finish = (outcome: ForwardOutcome) => {
      if (finished) return;
      finished = true;
      stopReading();
      socket?.destroy();
      output.off('error', onOutputError);
      output.on('error', () => {});
      resolve(outcome);
    };
    const attach = (connection: HostConnection): Socket => {
      const s = connection.socket;
      toHost = directWriter(s, descriptorOf(s));
      const fromHost = new ReplyIds((id) => pending.delete(id));
      connection.receive((chunk) => {
        // The bytes go on first: reading which replies they carry is off the turn's path. (The
        // chunk is a view of the connection's read buffer: ReplyIds copies what it keeps.)
        toClient(chunk);
        fromHost.push(chunk);
        if (inputEnded && pending.size === 0) s.end();
      });
      s.on('error', () => {}); // 'close' follows and says what to do
      // The host ended its side: after our end of input that is the normal end (every reply is
      // through); before it, the host died or left, and what it had is lost.
      const gone = () => {
        if (socket !== s) return;
        socket = null;
        s.destroy();
        if (exitSent) {
          output.write('', () => finish({ reason: 'exit', code: shutdownSent ? 0 : 1 }));
          return;
        }
        hostGone('its connection closed');
      };
      s.on('end', gone);
      s.on('close', gone);
      return s;
    };
    /** The host went away: every request it had is answered with a retryable error. */
    const hostGone = (why: string) => {
      const framing = fromClient.framing ?? 'ndjson';
      const lost = [...pending.values()];
      pending.clear();
      for (const id of lost) toClient(encodeFrame(framing, hostLostReply(id, why)));
      if (inputEnded) output.write('', () => finish({ reason: 'eof', code: lost.length > 0 ? 1 : 0 }));
    };
    const reach = (): Promise<Socket | null> => {
      reaching ??= reachHost(address, { ...reachOptions, ...(clientInfo ? { clientInfo } : {}) }).then(
        (connection) => {
          reaching = null;
          socket = attach(connection);
          return socket;
        },
        (error: unknown) => {
          reaching = null;
          warn(`mai: the shared host cannot be reached: ${(error as Error).message}\n`);
          return null;
        },
      );
      return reaching;
    };
    // Chunks that come while a new host is being reached go out in order once it is there.
    let queue: Promise<void> = Promise.resolve();
    let waiting = 0;
    // The chunk is a view of the read buffer, valid during the call only: the writers and the
    // decoder copy what they keep (a message written at once is never copied).
    const onData = (view: Buffer) => {
      if (socket && waiting === 0) {
        // The bytes go on first; which requests they carry is read after, in the same turn of the
        // event loop (so before any news of the host's end can come).
        toHost(view);
        fromClient.push(view);
        fromClient.keep();
        return;
      }
      fromClient.push(view);
      fromClient.keep();
      const chunk = Buffer.from(view);
      waiting++;
      queue = queue.then(async () => {
        const s = socket ?? (await reach());
        waiting--;
        if (s) s.write(chunk);
        else hostGone('no host could be started');
      });
    };
    const onInputEnd = () => {
      if (inputEnded) return;
      inputEnded = true;
      // The host takes the end of a connection for a client gone (its turns are cancelled), so
      // our side stays open until every request sent has its reply; then the host ends too.
      void queue.then(() => {
        if (!socket) output.write('', () => finish({ reason: 'eof', code: 0 }));
        else if (pending.size === 0) socket.end();
      });
    };
    const onOutputError = () => finish({ reason: 'output-closed', code: 1 });
    socket = attach(first);
    stopReading = ('receive' in input ? input : streamBytes(input)).receive(onData, onInputEnd);
    output.on('error', onOutputError);
    void clientGone?.then(() => finish({ reason: 'client-gone', code: 1 }));
  });
}
