/**
 * LSP-style framing: `Content-Length: N` header lines, a blank line, N bytes of body. A header that
 * breaks sync is answered once as a parse error and reading resynchronises at the next header,
 * rather than going deaf:
 * - a header block that is not headers (garbage, a negative or missing length) is dropped, and
 *   anything up to the next `Content-Length:` with it;
 * - a length too small leaves the body's tail before the next header: the same;
 * - a length too large (or one over the size limit, whose body is skipped unread) is cut short
 *   where a header shows up inside the body: `Content-Length: N` followed by a raw newline cannot
 *   be part of a JSON text, so the body was not what the length said;
 * - lines may end in LF alone.
 * Each frame is consumed before it is handed on.
 */
import { ChunkList, deliver, isBlank, LF, NO_BYTES, plainFrame, reportBad, tooLarge, type DecoderLimits, type FrameSink } from './frame-parts.ts';

/** A header block longer than this without its blank line is not a header block. */
const MAX_HEADER_BYTES = 8 * 1024;
/** Bytes of body kept to find a header that straddles two chunks. */
const TAIL_BYTES = 64;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const EMBEDDED_HEADER = /content-length[ \t]*:[ \t]*\d+[ \t]*\r?\n/i;

interface Body {
  length: number;
  /** The bytes so far; null when the body is over the limit and skipped unread. */
  got: ChunkList | null;
  seen: number;
  tail: Buffer;
}

export class ContentLengthDecoder {
  private head: Buffer = NO_BYTES;
  private body: Body | null = null;
  /** A broken header was reported: what comes before the next header is dropped without another error. */
  private resyncing = false;

  constructor(
    private readonly sink: FrameSink,
    private readonly limits: DecoderLimits,
    private readonly onSinkError: (error: unknown) => void,
  ) {}

  push(chunk: Buffer): void {
    let data = chunk;
    while (data.length > 0) data = this.body ? this.feedBody(data) : (this.plain(data) ?? this.feedHead(data));
  }

  /**
   * A plain frame whole at the start of `data`, its body on one line (no header can be inside it),
   * read the short way: what feedHead and feedBody would make of it. Returns what follows, or null.
   */
  private plain(data: Buffer): Buffer | null {
    if (this.head.length > 0) return null;
    const frame = plainFrame(data);
    if (!frame || frame.length > this.limits.maxMessageBytes()) return null;
    const end = frame.body + frame.length;
    const newline = data.indexOf(LF, frame.body);
    if (newline !== -1 && newline < end) return null;
    this.resyncing = false;
    deliver(this.sink, data.toString('utf8', frame.body, end), this.onSinkError);
    return data.subarray(end);
  }

  /** What is kept of the chunks pushed so far is copied: their buffer may be read into again (frame-parts.ts's keep()). */
  keep(): void {
    if (this.head.length > 0) this.head = Buffer.from(this.head);
    this.body?.got?.keep();
  }

  /** End of input: a cut-off body or header block is reported. */
  end(): void {
    if (this.body?.got) {
      this.bad(`the input ended inside a message: Content-Length announced ${this.body.length} bytes, ${this.body.seen} came`);
    } else if (!this.body && !this.resyncing && this.head.some((b) => !isBlank(b))) {
      this.bad('the input ended inside a header block');
    }
    this.body = null;
    this.head = NO_BYTES;
  }

  /** Reads header blocks; returns the bytes after a valid one (its body), or nothing while more is needed. */
  private feedHead(data: Buffer): Buffer {
    let buf = this.head.length > 0 ? Buffer.concat([this.head, data]) : data;
    this.head = NO_BYTES;
    for (;;) {
      let skip = 0;
      while (skip < buf.length && isBlank(buf[skip]!)) skip++;
      buf = buf.subarray(skip);
      if (buf.length === 0) return buf;
      const block = findBlockEnd(buf);
      if (!block) {
        if (buf.length <= MAX_HEADER_BYTES) {
          this.head = buf;
          return NO_BYTES;
        }
        const next = findHeaderStart(buf, 1, buf.length - TAIL_BYTES);
        this.broken(`${buf.length} bytes came without the blank line that ends a header block`);
        if (next === -1) {
          this.head = buf.subarray(buf.length - TAIL_BYTES);
          return NO_BYTES;
        }
        buf = buf.subarray(next);
        continue;
      }
      const length = contentLength(buf.subarray(0, block.end).toString('latin1'));
      if (typeof length === 'number') {
        this.resyncing = false;
        if (length === 0) {
          deliver(this.sink, '', this.onSinkError); // answered as a parse error, like any body that is not JSON
          buf = buf.subarray(block.after);
          continue;
        }
        const limit = this.limits.maxMessageBytes();
        if (length > limit) this.bad(tooLarge(length, limit));
        this.body = { length, got: length > limit ? null : new ChunkList(), seen: 0, tail: NO_BYTES };
        return buf.subarray(block.after);
      }
      this.broken(length);
      const next = findHeaderStart(buf, 1, block.end);
      buf = buf.subarray(next === -1 ? block.after : next);
    }
  }

  /** Takes body bytes; returns what follows the body (or the header found inside it). */
  private feedBody(data: Buffer): Buffer {
    const body = this.body!;
    const part = data.subarray(0, body.length - body.seen);
    const rest = data.subarray(part.length);
    const window = body.tail.length > 0 ? Buffer.concat([body.tail, part]) : part;
    // A header inside the body ends in a raw newline: a window without one has none (a JSON text
    // on one line, what clients send, is not turned into a string to be searched).
    const found = window.includes(LF) ? EMBEDDED_HEADER.exec(window.toString('latin1')) : null;
    if (found) {
      const at = body.seen - body.tail.length + found.index;
      this.body = null;
      if (body.got) this.broken(`Content-Length announced ${body.length} bytes, but a new header began after ${at}; the length was wrong and the message is skipped`);
      this.resyncing = false;
      return Buffer.concat([window.subarray(found.index), rest]);
    }
    body.got?.add(part);
    body.seen += part.length;
    if (body.seen < body.length) {
      body.tail = Buffer.from(window.subarray(Math.max(0, window.length - TAIL_BYTES)));
      return rest;
    }
    this.body = null;
    if (body.got) deliver(this.sink, body.got.take().toString('utf8'), this.onSinkError);
    return rest;
  }

  /** A broken header: one parse error, then silence until the next good header. */
  private broken(reason: string): void {
    if (!this.resyncing) this.bad(`${reason}; reading goes on at the next "Content-Length:" header`);
    this.resyncing = true;
  }

  private bad(reason: string): void {
    reportBad(this.sink, reason, this.onSinkError);
  }
}

/** Where a header block ends (a line ending followed by an empty line, CRLF or LF alone), if it has. */
function findBlockEnd(buf: Buffer): { end: number; after: number } | null {
  for (let i = buf.indexOf(LF); i !== -1; i = buf.indexOf(LF, i + 1)) {
    if (buf[i + 1] === LF) return { end: i, after: i + 2 };
    if (buf[i + 1] === 0x0d && buf[i + 2] === LF) return { end: i, after: i + 3 };
  }
  return null;
}

/** The next `Content-Length` (any case) in buf[from, to), or -1. */
function findHeaderStart(buf: Buffer, from: number, to: number): number {
  if (to <= from) return -1;
  const at = buf.subarray(from, to).toString('latin1').toLowerCase().indexOf('content-length');
  return at === -1 ? -1 : from + at;
}

/** The Content-Length of a header block, or why it has none. */
function contentLength(block: string): number | string {
  let length: number | string = 'the header block has no Content-Length (each message must start with "Content-Length: <bytes>\\r\\n\\r\\n")';
  for (const raw of block.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const colon = line.indexOf(':');
    const name = colon === -1 ? '' : line.slice(0, colon).trim();
    if (!HEADER_NAME.test(name)) return `"${line.slice(0, 60)}" is not a header line (expected "Content-Length: <bytes>")`;
    if (name.toLowerCase() !== 'content-length') continue;
    const value = line.slice(colon + 1).trim();
    if (!/^\d+$/.test(value)) return `Content-Length must be a number of bytes, got "${value.slice(0, 40)}"`;
    length = Number(value);
  }
  return length;
}
