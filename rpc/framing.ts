/**
 * Byte framing on a stream, apart from the protocol (as the MCP SDK keeps its ReadBuffer apart):
 * the framing is detected from the first non-blank byte the client sends — `C` starts LSP-style
 * `Content-Length` headers (what vscode-jsonrpc speaks), anything else is newline-delimited JSON
 * (what MCP clients and shell pipes speak) — and replies are encoded the same way.
 * The decoder hands over each frame's text; it never parses JSON (that is conformance.ts's job).
 */

export type Framing = 'content-length' | 'ndjson';

export interface FrameSink {
  /** One complete frame's text. */
  frame(text: string): void;
  /** A frame that cannot be read (a header without Content-Length, a cut-off body). */
  badFrame(reason: string): void;
}

const LF = 0x0a;
const CR = 0x0d;
const HEADER_END = Buffer.from('\r\n\r\n');

/** Encodes one message's JSON text in a framing. */
export function encodeFrame(framing: Framing, json: string): string {
  return framing === 'ndjson' ? `${json}\n` : `Content-Length: ${Buffer.byteLength(json, 'utf8')}\r\n\r\n${json}`;
}

function isBlank(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === LF || byte === CR;
}

export class FrameDecoder {
  private buffer: Buffer = Buffer.alloc(0);
  private detected: Framing | null = null;
  /** Body length announced by the last header block, while its body is awaited. */
  private bodyLength = -1;

  constructor(private readonly sink: FrameSink) {}

  /** The client's framing, once its first byte came (null before). */
  get framing(): Framing | null {
    return this.detected;
  }

  push(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    if (this.detected === null) {
      const first = this.buffer.findIndex((byte) => !isBlank(byte));
      if (first === -1) return;
      this.detected = this.buffer[first] === 0x43 || this.buffer[first] === 0x63 ? 'content-length' : 'ndjson';
    }
    if (this.detected === 'ndjson') this.drainLines();
    else this.drainHeaders();
  }

  /** End of input: a last line without its newline still counts; a cut-off body is reported. */
  end(): void {
    if (this.detected === 'ndjson' && this.buffer.length > 0) {
      const text = this.buffer.toString('utf8').trim();
      this.buffer = Buffer.alloc(0);
      if (text !== '') this.sink.frame(text);
    } else if (this.detected === 'content-length' && (this.bodyLength >= 0 || this.buffer.some((b) => !isBlank(b)))) {
      const got = this.buffer.length;
      this.buffer = Buffer.alloc(0);
      this.sink.badFrame(
        this.bodyLength >= 0
          ? `the input ended inside a message: Content-Length announced ${this.bodyLength} bytes, ${got} came`
          : 'the input ended inside a header block',
      );
    }
  }

  private drainLines(): void {
    let start = 0;
    for (let newline = this.buffer.indexOf(LF); newline !== -1; newline = this.buffer.indexOf(LF, start)) {
      const text = this.buffer.subarray(start, newline).toString('utf8').trim();
      start = newline + 1;
      if (text !== '') this.sink.frame(text);
    }
    this.buffer = this.buffer.subarray(start);
  }

  private drainHeaders(): void {
    for (;;) {
      if (this.bodyLength < 0) {
        // Blank lines between messages are tolerated.
        let skip = 0;
        while (skip < this.buffer.length && isBlank(this.buffer[skip]!)) skip++;
        this.buffer = this.buffer.subarray(skip);
        const end = this.buffer.indexOf(HEADER_END);
        if (end === -1) return;
        const headers = this.buffer.subarray(0, end).toString('ascii');
        this.buffer = this.buffer.subarray(end + HEADER_END.length);
        const length = contentLength(headers);
        if (typeof length === 'string') {
          this.sink.badFrame(length);
          continue;
        }
        this.bodyLength = length;
      }
      if (this.buffer.length < this.bodyLength) return;
      const body = this.buffer.subarray(0, this.bodyLength).toString('utf8');
      this.buffer = this.buffer.subarray(this.bodyLength);
      this.bodyLength = -1;
      this.sink.frame(body);
    }
  }
}

/** The Content-Length of a header block, or why it has none. */
function contentLength(block: string): number | string {
  for (const line of block.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon === -1) return `the header line "${line.slice(0, 80)}" has no colon (expected "Content-Length: <bytes>")`;
    if (line.slice(0, colon).trim().toLowerCase() !== 'content-length') continue;
    const value = line.slice(colon + 1).trim();
    if (!/^\d+$/.test(value)) return `Content-Length must be a number of bytes, got "${value.slice(0, 40)}"`;
    return Number(value);
  }
  return 'the header block has no Content-Length (each message must start with "Content-Length: <bytes>\\r\\n\\r\\n")';
}
