/**
 * Byte framing on a stream, apart from the protocol (as the MCP SDK keeps its ReadBuffer apart):
 * the framing is detected from the first non-blank byte the client sends — `C` starts LSP-style
 * `Content-Length` headers (what vscode-jsonrpc speaks; content-length-decoder.ts), anything else
 * is newline-delimited JSON (what MCP clients and shell pipes speak; ndjson-decoder.ts) — and
 * replies are encoded the same way. The decoders hand over each frame's text, read in time linear
 * in its size and bounded by the size limit (`server.maxMessageBytes`); they never parse JSON
 * (that is conformance.ts's job), and nothing a sink throws can make them read input twice.
 */
import { ContentLengthDecoder } from './content-length-decoder.ts';
import { defaultLimits, detectFraming, type DecoderLimits, type FrameSink } from './frame-parts.ts';
import { NdjsonDecoder } from './ndjson-decoder.ts';

export type { DecoderLimits, FrameSink } from './frame-parts.ts';
export type Framing = 'content-length' | 'ndjson';

/** Encodes one message's JSON text in a framing. */
export function encodeFrame(framing: Framing, json: string): string {
  return framing === 'ndjson' ? `${json}\n` : `Content-Length: ${Buffer.byteLength(json, 'utf8')}\r\n\r\n${json}`;
}

export class FrameDecoder {
  private decoder: NdjsonDecoder | ContentLengthDecoder | null = null;
  private detected: Framing | null = null;

  /** `onSinkError`: a sink threw on a frame (a bug: the frame is consumed all the same and reading goes on). */
  constructor(
    private readonly sink: FrameSink,
    private readonly limits: DecoderLimits = defaultLimits,
    private readonly onSinkError: (error: unknown) => void = () => {},
  ) {}

  /** The client's framing, once its first byte came (null before). */
  get framing(): Framing | null {
    return this.detected;
  }

  push(chunk: Buffer): void {
    if (!this.decoder) {
      const detected = detectFraming(chunk);
      if (!detected) return;
      this.detected = detected.framing;
      this.decoder =
        this.detected === 'ndjson'
          ? new NdjsonDecoder(this.sink, this.limits, this.onSinkError)
          : new ContentLengthDecoder(this.sink, this.limits, this.onSinkError);
      chunk = chunk.subarray(detected.first);
    }
    this.decoder.push(chunk);
  }

  /**
   * What is kept of the chunks pushed so far (a frame's first part) is copied: for a reader whose
   * chunks are views of a read buffer it reads into again (the forwarder, rpc/host/forward.ts).
   */
  keep(): void {
    this.decoder?.keep();
  }

  /** End of input: a last line without its newline still counts; a cut-off body is reported. */
  end(): void {
    this.decoder?.end();
  }
}
