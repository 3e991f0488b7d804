/**
 * Newline-delimited JSON: one message a line. Each chunk is searched once for newlines; a line
 * over the size limit is reported as soon as it passes the limit and skipped up to its newline
 * without being kept. Every line is consumed before it is handed on.
 */
import { ChunkList, deliver, LF, reportBad, tooLarge, type DecoderLimits, type FrameSink } from './frame-parts.ts';

export class NdjsonDecoder {
  private readonly line = new ChunkList();
  /** Bytes of an oversized line already reported, skipped up to its newline. */
  private skipping = false;

  constructor(
    private readonly sink: FrameSink,
    private readonly limits: DecoderLimits,
    private readonly onSinkError: (error: unknown) => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(LF, start);
      const end = newline === -1 ? chunk.length : newline;
      if (!this.skipping) {
        this.line.add(chunk.subarray(start, end));
        const limit = this.limits.maxMessageBytes();
        if (this.line.bytes > limit) {
          this.line.clear();
          this.skipping = true;
          reportBad(this.sink, tooLarge('a line longer than that', limit), this.onSinkError);
        }
      }
      if (newline === -1) return;
      start = newline + 1;
      if (this.skipping) {
        this.skipping = false;
        continue;
      }
      this.emitLine();
    }
  }

  /** What is kept of the chunks pushed so far is copied (frame-parts.ts's keep()). */
  keep(): void {
    this.line.keep();
  }

  /** End of input: a last line without its newline still counts. */
  end(): void {
    if (!this.skipping) this.emitLine();
    this.skipping = false;
  }

  private emitLine(): void {
    const text = this.line.take().toString('utf8').trim();
    if (text !== '') deliver(this.sink, text, this.onSinkError);
  }
}
