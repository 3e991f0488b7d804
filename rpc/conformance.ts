/**
 * The layer between the byte framing and vscode-jsonrpc's MessageConnection that makes Mai answer
 * what JSON-RPC 2.0 requires and vscode-jsonrpc drops: unparsable frames (-32700, id null),
 * invalid request objects (-32600), batches (split into single messages, their replies collected
 * back into one array; an empty batch is one -32600), while notifications are never answered.
 *
 * It hands the connection its own MessageReader/MessageWriter (layer-streams.ts). Request ids are renumbered on the
 * way in (so duplicate ids, "1" versus 1, and batch members never collide inside vscode-jsonrpc)
 * and restored on the way out; `$/cancelRequest` is renumbered the same way. A message strategy
 * counts what is still being handled, so the end of input can wait for every reply.
 */
import type { Message, MessageReader, MessageStrategy, MessageWriter } from 'vscode-jsonrpc/node';
import type { Logger } from '../core/log.ts';
import { boundReplies } from './bounded-reply.ts';
import { errorResponse, protocolErrorObject, RpcCodes, type ProtocolCode } from './error-codes.ts';
import { LayerReader, LayerWriter } from './layer-streams.ts';
import { CancelNotification } from './mai-protocol.ts';
import { classify, type RequestId } from './validate.ts';
import { extend } from '../core/extend.ts';

/**
 * Another way to cancel a request (the conformance layer honours it besides `$/cancelRequest`),
 * e.g. MCP's `notifications/cancelled {requestId}`: the client forgets the request at once, so
 * the cancelled request gets no reply ("SHOULD NOT send a response for the cancelled request").
 */
export interface CancelConvention {
  method: string;
  /** The param that names the request's id. */
  idParam: string;
  /** Whether the cancelled request is still answered (-32800). */
  reply: boolean;
}

interface Batch {
  replies: Array<object | undefined>;
  /** Requests of the batch still to be answered. */
  waiting: number;
  flushed: boolean;
}

interface Pending {
  id: RequestId;
  batch: Batch | null;
  slot: number;
  /** Cancelled by a convention without a reply (CancelConvention): its reply is dropped. */
  silent?: boolean;
}

interface ResponseLike {
  jsonrpc: string;
  id?: unknown;
  result?: unknown;
  error?: unknown;
}

export class ConformanceLayer {
  private readonly layerReader = new LayerReader();
  readonly reader: MessageReader = this.layerReader;
  readonly writer: MessageWriter = new LayerWriter((message) => this.fromConnection(message));
  /** Pass to createMessageConnection: tells the layer when each message is fully handled. */
  readonly messageStrategy: MessageStrategy = {
    handleMessage: (message, next) => {
      const counted = this.counted.delete(message);
      if (counted) this.undispatched--;
      let result: unknown;
      try {
        result = next(message);
      } finally {
        if (counted && !(result instanceof Promise)) this.settle();
      }
      if (counted && result instanceof Promise) void result.finally(() => this.settle());
    },
  };
  private readonly pending = new Map<number, Pending>();
  private readonly counted = new WeakSet<Message>();
  private nextId = 1;
  private inFlight = 0;
  private undispatched = 0;
  private ended = false;
  private readonly idle: Array<() => void> = [];

  private readonly send: (message: unknown) => void;

  constructor(
    send: (message: unknown) => void,
    private readonly log: Logger,
    private readonly options: { cancel?: CancelConvention } = {},
  ) {
    this.send = (message) => send(boundReplies(message));
  }

  /**
   * One frame of text from the client. Whatever goes wrong examining it (a bug) is answered
   * -32603 with id null rather than thrown back into the decoder.
   */
  receive(text: string): void {
    try {
      this.examine(text);
    } catch (error) {
      this.log.error('examining a message failed', error instanceof Error ? error.stack ?? error : error);
      this.send(errorReply(null, RpcCodes.internalError, `Internal error: the message could not be examined (${(error as Error).message}).`));
    }
  }

  private examine(text: string): void {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      this.log.debug('parse error', error);
      this.send(errorReply(null, RpcCodes.parseError, `Parse error: the message is not valid JSON (${(error as Error).message}).`));
      return;
    }
    if (!Array.isArray(value)) {
      this.handle(value, null, 0)?.();
      return;
    }
    if (value.length === 0) {
      this.send(errorReply(null, RpcCodes.invalidRequest, 'Invalid Request: the batch is an empty array; send at least one request in it.'));
      return;
    }
    const batch: Batch = { replies: value.map(() => undefined), waiting: 0, flushed: false };
    const forwards = value.map((member, slot) => this.handle(member, batch, slot));
    for (const forward of forwards) forward?.();
    this.flushIfDone(batch);
  }

  /** A frame that could not be read at all: answered like a parse error. */
  badFrame(reason: string): void {
    this.send(errorReply(null, RpcCodes.parseError, `Parse error: ${reason}.`));
  }

  /** The input ended: resolves once every message received so far has been handled and answered. */
  end(): Promise<void> {
    this.ended = true;
    return new Promise((resolve) => {
      this.idle.push(resolve);
      this.checkIdle();
    });
  }

  /** Messages handed to the connection that it has not started handling yet (its queue): more replies are coming. */
  get queued(): number {
    return this.undispatched;
  }

  /** Cancels every request still pending (the `exit` path): each is answered -32800 rather than dropped. */
  cancelAll(): void {
    for (const internal of this.pending.keys()) {
      this.layerReader.callback?.({ jsonrpc: '2.0', method: CancelNotification.method, params: { id: internal } } as Message);
    }
  }

  /** Tells the connection that the input is closed (after end() resolved). */
  close(): void {
    this.layerReader.close();
  }

  /**
   * Validates one message. Replies to an invalid one at once (or into its batch slot); returns the
   * forwarding to run for a valid one (batches register every slot before forwarding any).
   */
  private handle(value: unknown, batch: Batch | null, slot: number): (() => void) | undefined {
    const message = classify(value);
    switch (message.kind) {
      case 'invalid':
        this.log.debug(message.message);
        this.reply(batch, slot, errorReply(message.id, message.code, message.message));
        return undefined;
      case 'response':
        this.log.debug('dropped a response: Mai sends no requests to answer');
        return undefined;
      case 'notification': {
        if (message.method === CancelNotification.method) return () => this.forwardCancel(message.params);
        const convention = this.options.cancel;
        if (convention && message.method === convention.method) return () => this.forwardCancel(message.params, convention);
        const forwarded: Message & { method: string; params?: unknown } = { jsonrpc: '2.0', method: message.method };
        if (message.params !== undefined) forwarded.params = message.params;
        return () => this.forward(forwarded);
      }
      case 'request': {
        const internal = this.nextId++;
        this.pending.set(internal, { id: message.id, batch, slot });
        if (batch) batch.waiting++;
        const forwarded: Message & { id: number; method: string; params?: unknown } = { jsonrpc: '2.0', id: internal, method: message.method };
        if (message.params !== undefined) forwarded.params = message.params;
        return () => this.forward(forwarded);
      }
    }
  }

  private forward(message: Message): void {
    this.inFlight++;
    this.counted.add(message);
    if (!this.layerReader.callback) {
      this.log.error('a message arrived before the connection listened; it is dropped');
      this.counted.delete(message);
      this.settle();
      return;
    }
    this.undispatched++;
    this.layerReader.callback(message);
  }

  /** `$/cancelRequest {id}` (or the convention's) names the client's id: find the request it meant (the latest with it). */
  private forwardCancel(params: unknown, convention?: CancelConvention): void {
    const id = params && typeof params === 'object' ? (params as Record<string, unknown>)[convention?.idParam ?? 'id'] : undefined;
    let internal: number | undefined;
    for (const [key, pending] of this.pending) if (pending.id === id) internal = key;
    if (internal === undefined) {
      this.log.debug(`${convention?.method ?? CancelNotification.method} for ${JSON.stringify(id)}: no such request in flight`);
      return;
    }
    if (convention && !convention.reply) this.pending.get(internal)!.silent = true;
    this.layerReader.callback?.({ jsonrpc: '2.0', method: CancelNotification.method, params: { id: internal } } as Message);
  }

  /** What the connection writes: replies get the client's id back (and go into their batch). */
  private fromConnection(message: Message): void {
    const response = message as ResponseLike;
    const pending = typeof response.id === 'number' ? this.pending.get(response.id) : undefined;
    if (!pending || !('result' in response || 'error' in response)) {
      this.send(message);
      return;
    }
    this.pending.delete(response.id as number);
    if (pending.silent) {
      if (pending.batch) {
        pending.batch.waiting--;
        this.flushIfDone(pending.batch);
      }
      return;
    }
    const restored = extend(response, { id: pending.id });
    this.reply(pending.batch, pending.slot, restored, true);
  }

  /** Sends a reply, or files it in its batch (`answersRequest`: it is the awaited reply of a request). */
  private reply(batch: Batch | null, slot: number, reply: object, answersRequest = false): void {
    if (!batch) {
      this.send(reply);
      return;
    }
    batch.replies[slot] = reply;
    if (answersRequest) {
      batch.waiting--;
      this.flushIfDone(batch);
    }
  }

  private flushIfDone(batch: Batch): void {
    if (batch.waiting > 0 || batch.flushed) return;
    batch.flushed = true;
    const replies = batch.replies.filter((r): r is object => r !== undefined);
    // A batch of notifications only gets no reply at all.
    if (replies.length > 0) this.send(replies);
  }

  private settle(): void {
    this.inFlight--;
    this.checkIdle();
  }

  private checkIdle(): void {
    if (!this.ended || this.inFlight > 0 || this.pending.size > 0) return;
    for (const resolve of this.idle.splice(0)) resolve();
  }
}

function errorReply(id: RequestId | null, code: ProtocolCode, message: string): object {
  return errorResponse(id, protocolErrorObject(code, message));
}
