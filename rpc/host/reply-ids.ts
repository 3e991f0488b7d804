/**
 * The ids of the replies in the host's output, as the forwarder passes it on: all the forwarder
 * needs to know (which requests the host has answered) without decoding what it forwards. Most of
 * a turn's frames are `$/progress` notifications; a frame's first bytes say whether it is a reply
 * (the host writes `{"jsonrpc":"2.0","id":…` for a reply, `{"jsonrpc":"2.0","method":…` for a
 * notification, `[` for a batch), so a notification is passed over byte-counted (Content-Length) or
 * up to its newline (NDJSON), never copied, turned into a string or parsed. A reply's id is read
 * from its first bytes too (`"id":7,"result"`), the rest passed over; it counts once the frame
 * ends in `}` (whole). Parsing each reply whole (its answer's text included) was ~5 % of the
 * forwarder's CPU per turn; a batch, or an id that is not a plain number or string, still is.
 * The full decoder (framing.ts) did all of that for every frame: a quarter of the forwarder's CPU
 * per message. The host's framing is the client's, read from its first byte; the host is Mai, so
 * the checks against broken input that framing.ts makes for clients are not needed here.
 */
import { ChunkList, detectFraming, isBlank, LF, plainFrame } from '../frame-parts.ts';
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

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const CLOSE_BRACE = 0x7d;
/** Bytes of a number in JSON: digits, sign, point, exponent. */
const isNumberByte = (byte: number) => (byte >= 0x30 && byte <= 0x39) || byte === 0x2d || byte === 0x2b || byte === 0x2e || byte === 0x65 || byte === 0x45;
/** The longest string id read from a frame's first bytes; a longer one is parsed with the frame. */
const MAX_ID_BYTES = 256;

/**
 * A reply's id from its first bytes (`{"jsonrpc":"2.0","id":7,"result"…` or `…,"error"…`):
 * the id; undefined while more bytes are needed; null when the frame is to be parsed whole (a null
 * id, an escaped string, a request of the host's, anything else).
 */
export function leadingId(start: Buffer): ReplyId | undefined | null {
  const key = start.indexOf('"id":');
  if (key === -1 || key > PREFIX || start.subarray(0, key).includes('"method"')) return null;
  const at = key + 5;
  if (at >= start.length) return undefined;
  let end: number;
  let id: ReplyId;
  if (start[at] === QUOTE) {
    end = start.indexOf(QUOTE, at + 1);
    if (end === -1) return start.length - at > MAX_ID_BYTES ? null : undefined;
    if (start.subarray(at + 1, end).includes(BACKSLASH)) return null;
    id = start.toString('utf8', at + 1, end);
    end++;
  } else if (isNumberByte(start[at]!)) {
    end = at;
    while (end < start.length && isNumberByte(start[end]!)) end++;
    if (end === start.length) return undefined;
    id = Number(start.toString('latin1', at, end));
    if (!Number.isFinite(id)) return null;
  } else {
    return null;
  }
  const next = start.toString('latin1', end, end + 9);
  if (next.startsWith(',"result"') || next.startsWith(',"error"')) return id;
  return next.length < 9 && (',"result"'.startsWith(next) || ',"error"'.startsWith(next)) ? undefined : null;
}

/** The last byte of `part` that is not blank, or `last` when all are. */
function lastNonBlank(part: Buffer, last: number): number {
  for (let i = part.length - 1; i >= 0; i--) if (!isBlank(part[i]!)) return part[i]!;
  return last;
}

const HEADER = Buffer.from('Content-Length: ');

/**
 * The Content-Length in a header block (its first `end` bytes); 0 when there is none. The host
 * writes exactly `Content-Length: N` (framing.ts's encodeFrame): its digits are read from the
 * bytes; any other header block is read with the pattern.
 */
function contentLength(block: Buffer, end: number): number {
  if (end > HEADER.length && block.compare(HEADER, 0, HEADER.length, 0, HEADER.length) === 0) {
    let value = 0;
    let at = HEADER.length;
    for (; at < end && block[at]! >= 0x30 && block[at]! <= 0x39; at++) value = value * 10 + block[at]! - 0x30;
    if (at === end) return value;
  }
  const match = /content-length[ \t]*:[ \t]*(\d+)/i.exec(block.toString('latin1', 0, end));
  return match ? Number(match[1]) : 0;
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
  /**
   * What the current frame is: unknown until its first bytes came; a reply whose id is being read
   * from them ('reply'), or was ('id': the rest passed over, its last byte noted), or that is kept
   * to be parsed whole ('whole'); anything else passed over ('pass').
   */
  private verdict: 'unknown' | 'reply' | 'id' | 'whole' | 'pass' = 'unknown';
  private id: ReplyId = 0;
  /** The last non-blank byte of the current frame so far ('id'). */
  private last = 0;
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
    while (data.length > 0) data = this.framing === 'ndjson' ? this.line(data) : this.length < 0 ? (this.plain(data) ?? this.header(data)) : this.body(data);
    this.held.keep(); // the chunk may be a view of a buffer read into again (the forwarder's)
  }

  /**
   * A plain frame whole at the start of `data` (a turn's reply, as the host writes it) whose id its
   * first bytes say, read the short way: what header(), body() and frameEnd() would make of it.
   * Returns what follows, or null (then read the long way).
   */
  private plain(data: Buffer): Buffer | null {
    if (this.held.bytes > 0) return null;
    const frame = plainFrame(data);
    if (!frame || frame.length < PREFIX) return null; // a shorter one is parsed whole
    const body = data.subarray(frame.body, frame.body + frame.length);
    if (body[0] !== 0x7b /* { */ || !isReply(body)) return null;
    const id = leadingId(body);
    if (id === undefined || id === null) return null;
    if (lastNonBlank(body, 0) === CLOSE_BRACE) this.found(id);
    return data.subarray(frame.body + frame.length);
  }

  /** Part of the current frame: kept while the frame's kind is unknown or it is a reply. */
  private frameBytes(part: Buffer): void {
    if (this.verdict === 'pass') return;
    if (this.verdict === 'id') {
      this.last = lastNonBlank(part, this.last);
      return;
    }
    this.held.add(part);
    if (this.verdict === 'unknown') {
      if (this.held.bytes < PREFIX) return;
      const start = this.held.take();
      this.verdict = isReply(start) ? 'reply' : 'pass';
      if (this.verdict === 'reply') this.held.add(start);
    }
    if (this.verdict !== 'reply') return;
    const start = this.held.take();
    const first = start.findIndex((byte) => !isBlank(byte));
    const id = start[first] === 0x7b /* { */ ? leadingId(start.subarray(first)) : null;
    if (id === undefined || id === null) {
      if (id === null) this.verdict = 'whole';
      this.held.add(start);
      return;
    }
    this.verdict = 'id';
    this.id = id;
    this.last = lastNonBlank(start, 0);
  }

  /** The current frame ended: a reply's id counts (a whole one, or a short frame never judged, is parsed for its ids). */
  private frameEnd(): void {
    if (this.verdict === 'id') {
      if (this.last === CLOSE_BRACE) this.found(this.id);
    } else if (this.verdict !== 'pass' && this.held.bytes > 0) {
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
    const length = contentLength(buffer, end);
    this.length = length > 0 ? length : -1;
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
