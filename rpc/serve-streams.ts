/**
 * Serves Mai over a pair of byte streams: framing (framing.ts) → conformance (conformance.ts) →
 * vscode-jsonrpc's MessageConnection → the server (dispatcher.ts), and back the same way in the
 * client's framing. The same function serves stdio (`mai serve`), the host's sockets and, over a
 * TextPort (each message's JSON text handed over whole, no bytes), the CLI's in-process link.
 * At the end of the input every message already received is handled and answered before it returns.
 */
import type { Readable, Writable } from 'node:stream';
import { createMessageConnection, type Logger as JsonRpcLogger } from 'vscode-jsonrpc/node';
import { defaultMaxMessageBytes } from '../core/config/message-limit.ts';
import type { Logger } from '../core/log.ts';
import type { Mai } from '../core/mai.ts';
import { ConformanceLayer, type CancelConvention } from './conformance.ts';
import { errorResponse, protocolErrorObject, RpcCodes } from './error-codes.ts';
import { tooLarge } from './frame-parts.ts';
import { encodeFrame, FrameDecoder } from './framing.ts';
import type { Routes } from './route.ts';
import { attachMaiServer } from './dispatcher.ts';

/**
 * Messages without bytes, for a client in the same process (rpc/in-process.ts): each message's JSON
 * text is handed over whole, so nothing is framed, decoded, or held back to save system calls; the
 * conformance layer, the connection and the server see what they would see over a stream.
 */
export interface TextPort {
  /** Starts handing the client's messages over, each one's JSON text to `message`; `end` once the client is done. */
  listen(message: (text: string) => void, end: () => void): void;
  /** One message's JSON text to the client. */
  send(text: string): void;
}

/** Where messages come from and go: a pair of byte streams, or a TextPort. */
export type ServeTransport = { input: Readable; output: Writable; port?: undefined } | { port: TextPort; input?: undefined; output?: undefined };

export type ServeOptions = ServeTransport & ServeCommonOptions;

interface ServeCommonOptions {
  /** Mai, or its promise while it is built: the methods that need no Mai (initialize, shutdown, exit) do not wait for it. */
  mai: Mai | Promise<Mai>;
  log: Logger;
  /** Another protocol on the same framing, conformance layer and server (`mai serve --mcp`: rpc/mcp/). */
  face?: ServerFace;
  /** `initialize` arrived with these params (the host names its client by them). */
  onInitialize?: (params: Record<string, unknown>) => void;
  /**
   * The one way to say the client is gone though the input may not have ended: resolves with what
   * was seen (stdio: rpc/client-gone.ts; the host: its client's connection closed). What is in
   * flight is cancelled, then serving ends ('client-gone').
   */
  gone?: Promise<string>;
}

/** What a protocol served over this stack changes: the methods it answers and how its clients cancel. */
export interface ServerFace {
  routes: Routes;
  cancel?: CancelConvention;
}

export interface ServeOutcome {
  /**
   * eof: the input ended and every reply was written; exit: the exit notification (in-flight requests were cancelled and answered);
   * output-closed / client-gone: nobody reads (in-flight requests were cancelled).
   */
  reason: 'eof' | 'exit' | 'output-closed' | 'client-gone';
  code: number;
}

/**
 * Replies held back at most (characters) and for at most this many turns of the event loop. Few
 * turns: a client that keeps a window of requests in flight sends more as replies arrive, so
 * holding a whole window back leaves it idle while the server works (pipelined `status`, 64 in
 * flight, NDJSON: 0.74–0.84× the bare server at 64, 0.91–0.96× at 16, 0.74–0.76× at 0).
 */
const MAX_BUFFERED = 64 * 1024;
const MAX_DEFERRALS = 16;
/** Once the client is gone, cancelled turns get this long to settle (and store what they must) before serving ends. */
const GONE_GRACE_MS = 1_000;

function jsonRpcLogger(log: Logger): JsonRpcLogger {
  return { error: (m) => log.error(m), warn: (m) => log.warn(m), info: (m) => log.debug(m), log: (m) => log.debug(m) };
}

export function serveStreams(options: ServeOptions): Promise<ServeOutcome> {
  const { input, output, port, mai, log } = options;
  let outputClosed = false;
  // Replies produced close together go out in one write: a write to a pipe is a system call, and
  // under pipelined requests one per reply was the server's biggest cost. The buffer is flushed on
  // setImmediate, later while the connection still has received messages to dispatch (their
  // replies follow at once) and under MAX_BUFFERED characters, and always before serveStreams returns.
  // A message that finds nothing waiting and no received request still to dispatch is written at
  // once: a streamed piece of an answer, and a reply nothing else can join (a turn's result). Held
  // for the setImmediate, a turn's result waited behind what the turn does after it (the fsync's
  // start, the ledger, the pipeline's unwinding): 0.25–0.4 ms per turn at load ~15, as did the last
  // piece of an answer before (0.5–0.8 ms). Pipelined requests still share writes: while received
  // ones wait to be dispatched, their replies are buffered, and later ones join the buffer.
  let buffered: string[] = [];
  let bufferedChars = 0;
  let flushScheduled = false;
  let deferrals = 0;
  const flush = (): void => {
    flushScheduled = false;
    deferrals = 0;
    if (buffered.length === 0 || outputClosed) {
      buffered = [];
      bufferedChars = 0;
      return;
    }
    const chunk = buffered.length === 1 ? buffered[0]! : buffered.join('');
    buffered = [];
    bufferedChars = 0;
    output?.write(chunk);
  };
  const onImmediate = (): void => {
    if (layer.queued > 0 && bufferedChars < MAX_BUFFERED && deferrals < MAX_DEFERRALS) {
      deferrals++;
      setImmediate(onImmediate);
      return;
    }
    flush();
  };
  const send = (message: unknown): void => {
    if (outputClosed) return;
    let json: string;
    try {
      json = JSON.stringify(message);
    } catch (error) {
      const id = (message as { id?: string | number | null }).id;
      log.error('a reply could not be serialised', error);
      json = JSON.stringify(errorResponse(id ?? null, protocolErrorObject(RpcCodes.internalError, `The reply could not be serialised: ${(error as Error).message}`)));
    }
    if (port) {
      port.send(json);
      return;
    }
    const frame = encodeFrame(decoder.framing ?? 'ndjson', json);
    if (buffered.length === 0 && ((message as { id?: unknown }).id === undefined || layer.queued === 0)) {
      output?.write(frame);
      return;
    }
    buffered.push(frame);
    bufferedChars += frame.length;
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(onImmediate);
    }
  };
  const layer = new ConformanceLayer(send, log, options.face?.cancel ? { cancel: options.face.cancel } : {});
  // The size limit is the config's once Mai is built (and follows a reload), the default before.
  let built: Mai | undefined;
  if (mai instanceof Promise) mai.then((m) => (built = m), () => {});
  else built = mai;
  const limits = { maxMessageBytes: () => built?.config.config.server.maxMessageBytes ?? defaultMaxMessageBytes };
  const decoder = new FrameDecoder({ frame: (text) => layer.receive(text), badFrame: (reason) => layer.badFrame(reason) }, limits, (error) =>
    log.error('a frame could not be handled', error instanceof Error ? error.stack ?? error : error),
  );
  const connection = createMessageConnection(layer.reader, layer.writer, jsonRpcLogger(log), { messageStrategy: layer.messageStrategy });

  return new Promise<ServeOutcome>((resolve) => {
    let finished = false;
    const finish = (outcome: ServeOutcome) => {
      if (finished) return;
      finished = true;
      flush(); // every reply already made goes out before the end
      outputClosed = true; // whatever a late handler still sends goes nowhere (the client has its replies)
      stopReading();
      input?.off('end', onEnd);
      input?.off('close', onEnd);
      input?.off('error', onInputError);
      output?.off('error', onOutputError);
      output?.on('error', () => {}); // a write already under way may still fail on a closed pipe
      server.dispose();
      layer.close();
      connection.dispose();
      resolve(outcome);
    };
    // `exit` ends the process soon, but answers first: what is still in flight is cancelled (the
    // backend requests aborted) and replied -32800; nothing read after it is taken on.
    const onExit = (code: number) => {
      stopReading();
      layer.cancelAll();
      void layer.end().then(() => finish({ reason: 'exit', code }));
    };
    // A failed build (a broken config, a plugin that does not load) does not end serving: every
    // request that needs Mai is answered with the build's error (the config's problems, by YAML line)
    // until the client ends the session, as it would any other. An editor shows that reply; it rarely
    // shows the process's stderr, and a process that exited right after replying could race its own
    // reply (Neovim's client closes the pipe when it sees the exit, unread bytes and all).
    const server = attachMaiServer(connection, {
      mai,
      log,
      onExit,
      ...(options.face ? { routes: options.face.routes } : {}),
      ...(options.onInitialize ? { onInitialize: options.onInitialize } : {}),
    });
    connection.listen();

    let reading = true;
    const stopReading = () => {
      reading = false;
      input?.off('data', onData);
    };
    // A message from a TextPort: the size limit holds as it does for a frame read from bytes.
    const onText = (text: string) => {
      if (!reading) return;
      const limit = limits.maxMessageBytes();
      const bytes = text.length * 3 > limit ? Buffer.byteLength(text) : 0;
      if (bytes > limit) layer.badFrame(tooLarge(bytes, limit));
      else layer.receive(text);
    };
    const onData = (chunk: Buffer | string) => {
      try {
        decoder.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      } catch (error) {
        log.error('reading the input failed', error);
      }
    };
    let ending = false;
    const onEnd = () => {
      if (ending) return;
      ending = true;
      decoder.end();
      void layer.end().then(() => finish({ reason: 'eof', code: 0 }));
    };
    const onInputError = (error: Error) => {
      log.warn('the input failed; finishing what was received', error);
      onEnd();
    };
    // The client is gone: nothing read after this is taken on, what is in flight is cancelled (the
    // backend requests aborted), and serving ends once that settled or after GONE_GRACE_MS.
    let leaving = false;
    const onGone = (reason: ServeOutcome['reason'], why: string) => {
      outputClosed = true;
      if (leaving || finished) return;
      leaving = true;
      log.debug(`the client is gone (${why}); cancelling what is in flight`);
      stopReading();
      layer.cancelAll();
      const grace = new Promise<void>((resolve) => setTimeout(resolve, GONE_GRACE_MS).unref());
      void Promise.race([layer.end(), grace]).then(() => finish({ reason, code: 1 }));
    };
    const onOutputError = (error: Error) => onGone('output-closed', `the output failed: ${error.message}`);
    void options.gone?.then((why) => onGone('client-gone', why));
    if (port) {
      port.listen(onText, onEnd);
      return;
    }
    input.on('data', onData);
    input.on('end', onEnd);
    input.on('close', onEnd);
    input.on('error', onInputError);
    output.on('error', onOutputError);
  });
}
