/**
 * The ids of the replies in the host's output, as the forwarder passes it on: all the forwarder
 * needs to know (which requests the host has answered) without decoding what it forwards. Most of
 * a turn's frames are `$/progress` notifications; a frame's first bytes say whether it is a reply
 * (the host writes `{"jsonrpc":"2.0","id":…` for a reply, `{"jsonrpc":"2.0","method":…` for a
 * notification, `[` for a batch), so a notification is passed over byte-counted (Content-Length) or
 * up to its newline (NDJSON), never copied, turned into a string or parsed; only replies are.
 * The full decoder (framing.ts) did all of that for every frame: a quarter of the forwarder's CPU
 * per message. The host's framing is the client's, read from its first byte; the host is Mai, so
 * the checks against broken input that framing.ts makes for clients are not needed here.
 */
import { ChunkList, detectFraming, isBlank, LF } from '../frame-parts.ts';
import type { Framing } from '../framing.ts';

export type ReplyId = string | number;

/** The bytes of a frame's start that tell a reply from a notification. */
const PREFIX = 32;
const HEADER_END = Buffer.from('\r\n\r\n');
const EMPTY = Buffer.alloc(0);

/** Whether a frame whose first bytes are these is a reply (or a batch of them): worth parsing. */
function isReply(start: Buffer): boolean {
  let first = 0;
  while (first < start.length && isBlank(start[first]!)) first++;
  return start[first] === 0x5b /* [ */ || start.subarray(first, first + PREFIX).includes('"id"');
}

/** Reply ids in a frame's text (a response, or a batch of them). */
function idsIn(text: string, found: (id: ReplyId) => void): void {
  try {
    const value = JSON.parse(text) as unknown;
    for (const message of Array.isArray(value) ? value : [value]) {
      const { id, method } = (message ?? {}) as { id?: unknown; method?: unknown };
      if (method === undefined && (typeof id === 'string' || typeof id === 'number')) found(id);
    }
  } catch {
    // not ours to judge: the client reads it
  }
}

export class ReplyIds {
  private framing: Framing | null = null;
  /** The current frame's bytes kept so far: a header block, a frame's start, or all of a reply. */
  private readonly held = new ChunkList();
  /** What the current frame is, once its first bytes came: a reply is kept whole, the rest passed over. */
  private verdict: 'unknown' | 'reply' | 'pass' = 'unknown';
  /** Content-Length: the current body's length (-1 while reading a header block) and the bytes of it seen. */
  private length = -1;
  private seen = 0;

  constructor(private readonly found: (id: ReplyId) => void) {}

  push(chunk: Buffer): void {
    if (!this.framing) {
      const detected = detectFraming(chunk);
      if (!detected) return;
      this.framing = detected.framing;
    }
    let data = chunk;
    while (data.length > 0) data = this.framing === 'ndjson' ? this.line(data) : this.length < 0 ? this.header(data) : this.body(data);
  }

  /** Part of the current frame: kept while the frame's kind is unknown or it is a reply. */
  private frameBytes(part: Buffer): void {
    if (this.verdict === 'pass') return;
    this.held.add(part);
    if (this.verdict === 'unknown' && this.held.bytes >= PREFIX) {
      const start = this.held.take();
      this.verdict = isReply(start) ? 'reply' : 'pass';
      if (this.verdict === 'reply') this.held.add(start);
    }
  }

  /** The current frame ended: a reply (or a short frame never judged) is read for its ids. */
  private frameEnd(): void {
    if (this.verdict !== 'pass' && this.held.bytes > 0) {
      const frame = this.held.take();
      if (isReply(frame)) idsIn(frame.toString('utf8'), this.found);
    }
    this.held.clear();
    this.verdict = 'unknown';
  }

  /** NDJSON: a frame ends at its newline (JSON text has none inside). */
  private line(data: Buffer): Buffer {
    const newline = data.indexOf(LF);
    this.frameBytes(newline === -1 ? data : data.subarray(0, newline));
    if (newline === -1) return EMPTY;
    this.frameEnd();
    return data.subarray(newline + 1);
  }

  /** Content-Length: the header block, up to its blank line. */
  private header(data: Buffer): Buffer {
    this.held.add(data);
    const buffer = this.held.take();
    const end = buffer.indexOf(HEADER_END);
    if (end === -1) {
      this.held.add(buffer);
      return EMPTY;
    }
    const length = /content-length[ \t]*:[ \t]*(\d+)/i.exec(buffer.toString('latin1', 0, end));
    this.length = length && Number(length[1]) > 0 ? Number(length[1]) : -1;
    this.seen = 0;
    return buffer.subarray(end + HEADER_END.length);
  }

  private body(data: Buffer): Buffer {
    const part = data.subarray(0, this.length - this.seen);
    this.seen += part.length;
    this.frameBytes(part);
    if (this.seen === this.length) {
      this.frameEnd();
      this.length = -1;
    }
    return data.subarray(part.length);
  }
}
