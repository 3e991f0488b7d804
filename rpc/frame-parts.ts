/**
 * What both framings' decoders share: where a decoded frame goes, the size limit, and a list of
 * received chunks joined once when a frame is complete — never re-joined on every chunk, which
 * made reading one large message quadratic (80 MB took a minute).
 */
import { defaultMaxMessageBytes, maxMessageBytesKey } from '../core/config/message-limit.ts';

export interface FrameSink {
  /** One complete frame's text. */
  frame(text: string): void;
  /** A frame that cannot be read (a broken header, a cut-off body, one over the size limit). */
  badFrame(reason: string): void;
}

export interface DecoderLimits {
  /** The largest message read, in bytes (asked on every message, so a config reload applies). */
  maxMessageBytes(): number;
}

export const defaultLimits: DecoderLimits = { maxMessageBytes: () => defaultMaxMessageBytes };

export const LF = 0x0a;
export const CR = 0x0d;

export function isBlank(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === LF || byte === CR;
}

/**
 * The framing a peer speaks, from the first non-blank byte it sends (`C`/`c` starts a Content-Length
 * header, anything else is a JSON line), and where that byte is; null while only blanks came.
 */
export function detectFraming(chunk: Buffer): { framing: 'content-length' | 'ndjson'; first: number } | null {
  const first = chunk.findIndex((byte) => !isBlank(byte));
  if (first === -1) return null;
  return { framing: chunk[first] === 0x43 || chunk[first] === 0x63 ? 'content-length' : 'ndjson', first };
}

/** The reason given for a message over the limit: the size, the limit, and the key that raises it. */
export function tooLarge(bytes: number | string, limit: number): string {
  return `the message is ${typeof bytes === 'number' ? `${bytes} bytes` : bytes}, over the limit of ${limit} bytes; it was skipped (raise ${maxMessageBytesKey} in mai.config.yaml to accept larger messages)`;
}

/** Hands a frame on; a sink that throws is reported, never allowed to stop the decoder mid-input. */
export function deliver(sink: FrameSink, text: string, onSinkError: (error: unknown) => void): void {
  try {
    sink.frame(text);
  } catch (error) {
    onSinkError(error);
  }
}

export function reportBad(sink: FrameSink, reason: string, onSinkError: (error: unknown) => void): void {
  try {
    sink.badFrame(reason);
  } catch (error) {
    onSinkError(error);
  }
}

/**
 * Received bytes of one frame, joined once. A reader whose chunks are views of one read buffer
 * of its own (net's `onread`: the forwarder) calls keep() before that buffer is read into again:
 * the parts added since are copied, each once, so a frame spread over many reads stays linear.
 */
export class ChunkList {
  private chunks: Buffer[] = [];
  /** The first part not yet owned (added since the last keep()). */
  private fresh = 0;
  bytes = 0;

  add(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.bytes += chunk.length;
  }

  /** Copies the parts added since the last keep(): the buffer they are views of may be reused. */
  keep(): void {
    for (let i = this.fresh; i < this.chunks.length; i++) this.chunks[i] = Buffer.from(this.chunks[i]!);
    this.fresh = this.chunks.length;
  }

  /** Everything added, as one buffer; the list is empty afterwards. */
  take(): Buffer {
    const joined = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.bytes);
    this.clear();
    return joined;
  }

  clear(): void {
    this.chunks = [];
    this.fresh = 0;
    this.bytes = 0;
  }
}

const PLAIN_HEADER = Buffer.from('Content-Length: ');

/**
 * A frame as every client and Mai write it — `Content-Length: N\r\n\r\n` and its N bytes — whole
 * at the start of `data`: where its body starts and its length; null for anything else (another
 * header block, a frame cut by the chunk's end), which the decoders read the long way.
 */
export function plainFrame(data: Buffer): { body: number; length: number } | null {
  const digits = PLAIN_HEADER.length;
  if (data.length <= digits + 4 || data.compare(PLAIN_HEADER, 0, digits, 0, digits) !== 0) return null;
  let length = 0;
  let at = digits;
  for (; at < data.length && at < digits + 15; at++) {
    const byte = data[at]!;
    if (byte < 0x30 || byte > 0x39) break;
    length = length * 10 + byte - 0x30;
  }
  if (at === digits || data[at] !== CR || data[at + 1] !== LF || data[at + 2] !== CR || data[at + 3] !== LF) return null;
  const body = at + 4;
  return length > 0 && body + length <= data.length ? { body, length } : null;
}

/** An empty buffer, shared (it has no bytes to change). */
export const NO_BYTES = Buffer.alloc(0);
