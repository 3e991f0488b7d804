/**
 * Reads a GGUF file's little-endian values from a file handle, a chunk at a time, so only the
 * header and metadata are read (never the weights). Every read checks the file's bounds and
 * fails with a MaiError that names the file, the byte offset and what was expected.
 */
import type { FileHandle } from 'node:fs/promises';
import { ErrorCodes, MaiError } from '../../core/errors.ts';
import { valueTypeSizes } from './gguf-types.ts';

const CHUNK = 256 * 1024;
const decoder = new TextDecoder('utf-8', { fatal: false });

export class GgufByteReader {
  private buffer = Buffer.alloc(0);
  /** File offset of buffer[0]. */
  private bufferStart = 0;
  /** File offset of the next value. */
  position = 0;

  constructor(
    private readonly handle: FileHandle,
    readonly file: string,
    readonly fileSize: number,
  ) {}

  /** A MaiError saying the file is not a valid GGUF, at the current offset. */
  corrupt(reason: string, offset = this.position): MaiError {
    return new MaiError(
      ErrorCodes.badRequest,
      `${this.file} is not a valid GGUF file: ${reason} (at byte ${offset} of ${this.fileSize}). ` +
        'Download it again, or remove it from the model folder.',
      { retryable: false, data: { file: this.file, offset, reason } },
    );
  }

  get remaining(): number {
    return this.fileSize - this.position;
  }

  /** Makes sure `n` bytes from the current position are in the buffer. */
  private async need(n: number, what: string): Promise<number> {
    if (this.position + n > this.fileSize) throw this.corrupt(`the file ends inside ${what}; it is truncated`);
    const offset = this.position - this.bufferStart;
    if (offset >= 0 && offset + n <= this.buffer.length) return offset;
    const size = Math.max(n, CHUNK);
    const next = Buffer.alloc(Math.min(size, this.fileSize - this.position));
    let filled = 0;
    while (filled < n) {
      const { bytesRead } = await this.handle.read(next, filled, next.length - filled, this.position + filled);
      if (bytesRead === 0) throw this.corrupt(`the file ends inside ${what}; it is truncated`);
      filled += bytesRead;
    }
    this.buffer = next.subarray(0, filled);
    this.bufferStart = this.position;
    return 0;
  }

  async u8(what: string): Promise<number> {
    const at = await this.need(1, what);
    this.position += 1;
    return this.buffer.readUInt8(at);
  }

  async u32(what: string): Promise<number> {
    const at = await this.need(4, what);
    this.position += 4;
    return this.buffer.readUInt32LE(at);
  }

  /** A uint64 that must fit in a JS number (lengths, counts, offsets). */
  async u64(what: string): Promise<number> {
    const at = await this.need(8, what);
    const value = this.buffer.readBigUInt64LE(at);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw this.corrupt(`${what} is ${value}, far too large`);
    this.position += 8;
    return Number(value);
  }

  /** A fixed-size scalar of a GGUF value type. */
  async scalar(type: number, what: string): Promise<number | bigint | boolean> {
    const size = valueTypeSizes[type];
    if (size === undefined) throw this.corrupt(`${what} has unknown value type ${type}`);
    const at = await this.need(size, what);
    this.position += size;
    const b = this.buffer;
    switch (type) {
      case 0: return b.readUInt8(at);
      case 1: return b.readInt8(at);
      case 2: return b.readUInt16LE(at);
      case 3: return b.readInt16LE(at);
      case 4: return b.readUInt32LE(at);
      case 5: return b.readInt32LE(at);
      case 6: return b.readFloatLE(at);
      case 7: return b.readUInt8(at) !== 0;
      case 10: return b.readBigUInt64LE(at);
      case 11: return b.readBigInt64LE(at);
      default: return b.readDoubleLE(at);
    }
  }

  /** A GGUF string (uint64 length, UTF-8 bytes); longer than `maxBytes` is an error. */
  async string(what: string, maxBytes = this.fileSize): Promise<string> {
    const length = await this.u64(`the length of ${what}`);
    if (length > this.remaining) throw this.corrupt(`${what} claims ${length} bytes but only ${this.remaining} are left`);
    if (length > maxBytes) throw this.corrupt(`${what} is ${length} bytes long, more than the ${maxBytes} allowed`);
    return this.text(length, what);
  }

  /** A string if it is at most `keepBytes` long; else it is skipped and only its length returned. */
  async stringOrLength(what: string, keepBytes: number): Promise<string | { length: number }> {
    const length = await this.u64(`the length of ${what}`);
    if (length > this.remaining) throw this.corrupt(`${what} claims ${length} bytes but only ${this.remaining} are left`);
    if (length > keepBytes) {
      this.position += length;
      return { length };
    }
    return this.text(length, what);
  }

  private async text(length: number, what: string): Promise<string> {
    const at = await this.need(length, what);
    this.position += length;
    return decoder.decode(this.buffer.subarray(at, at + length));
  }

  /** Skips `n` bytes without reading them. */
  skip(n: number, what: string): void {
    if (n > this.remaining) throw this.corrupt(`${what} claims ${n} bytes but only ${this.remaining} are left`);
    this.position += n;
  }
}
