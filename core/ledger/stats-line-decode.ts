/**
 * Reads a stats line (stats-line.ts) straight from the file's bytes, without JSON.parse: the names
 * in it are few (models, backends, outcomes, error codes) and repeat on every line, so each is
 * looked up by a hash of its bytes instead of being made a new string, and numbers are read digit
 * by digit. On 100,000 lines this is most of `mai stats`' time and nearly all of its garbage.
 * A line with what this reader does not take (an escape, a non-ASCII name, a negative or
 * exponent number) is handed to JSON.parse (`parseStatsLine`) — the same result, only slower.
 */
import type { AttemptSummary, TurnOutcome } from '../observe/turn-summary.ts';
import { parseStatsLine, type StatsInput } from './stats-line.ts';

class NotFast extends Error {}
const notFast = new NotFast('not a plain stats line');

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const DOT = 0x2e;
const N = 0x6e; // null

/** A decoder keeps the names it met (one per `mai stats` run). */
export class StatsLineDecoder {
  private readonly names = new Map<number, string>();
  private bytes: Buffer = Buffer.alloc(0);
  private i = 0;
  private end = 0;

  /** The line at [start, end) of `bytes`; throws when it is not a stats line. */
  decode(bytes: Buffer, start: number, end: number): StatsInput {
    this.bytes = bytes;
    this.i = start;
    this.end = end;
    try {
      return this.line();
    } catch (error) {
      if (error !== notFast) throw error;
      return parseStatsLine(bytes.toString('utf8', start, end));
    }
  }

  private line(): StatsInput {
    this.expect(OPEN);
    const t = this.number();
    this.expect(COMMA);
    this.number(); // the ledger line's length: the reader has it already
    this.expect(COMMA);
    const outcome = this.string();
    if (outcome !== 'ok' && outcome !== 'failed' && outcome !== 'cancelled') throw new Error('not a stats line');
    this.expect(COMMA);
    const model = this.nullable(() => this.string());
    this.expect(COMMA);
    const attempts = this.list(() => this.attempt());
    this.expect(COMMA);
    const fallbacks = this.list(() => {
      this.expect(OPEN);
      const from = this.string();
      this.expect(COMMA);
      const to = this.string();
      this.expect(CLOSE);
      return { from, to };
    });
    this.expect(COMMA);
    const switched = this.number() === 1;
    this.expect(COMMA);
    const up = this.list(() => this.string());
    this.expect(COMMA);
    const down = this.list(() => this.string());
    this.expect(CLOSE);
    if (this.i !== this.end) throw new Error('not a stats line');
    return { t, outcome: outcome as TurnOutcome, model, attempts, fallbacks, switch: switched, up, down };
  }

  private attempt(): AttemptSummary {
    this.expect(OPEN);
    const model = this.string();
    this.expect(COMMA);
    const backend = this.string();
    this.expect(COMMA);
    const ok = this.number();
    if (ok !== 0 && ok !== 1) throw new Error('not an attempt');
    const a: AttemptSummary = { model, backend, ok: ok === 1 };
    this.expect(COMMA);
    const error = this.nullable(() => this.string());
    if (error !== null) a.error = error;
    this.expect(COMMA);
    const queueMs = this.nullable(() => this.number());
    if (queueMs !== null) a.queueMs = queueMs;
    this.expect(COMMA);
    const ttftMs = this.nullable(() => this.number());
    if (ttftMs !== null) a.ttftMs = ttftMs;
    this.expect(COMMA);
    const tokensPerSecond = this.nullable(() => this.number());
    if (tokensPerSecond !== null) a.tokensPerSecond = tokensPerSecond;
    this.expect(CLOSE);
    return a;
  }

  private expect(byte: number): void {
    if (this.bytes[this.i] !== byte) throw new Error('not a stats line');
    this.i++;
  }

  private list<T>(item: () => T): T[] {
    this.expect(OPEN);
    const items: T[] = [];
    if (this.bytes[this.i] === CLOSE) {
      this.i++;
      return items;
    }
    for (;;) {
      items.push(item());
      const c = this.bytes[this.i++];
      if (c === CLOSE) return items;
      if (c !== COMMA) throw new Error('not a list');
    }
  }

  private nullable<T>(read: () => T): T | null {
    const b = this.bytes;
    if (b[this.i] !== N) return read();
    if (b[this.i + 1] !== 0x75 || b[this.i + 2] !== 0x6c || b[this.i + 3] !== 0x6c) throw new Error('not a stats line');
    this.i += 4;
    return null;
  }

  /** A non-negative decimal: exactly what JSON.parse makes of it (digits / 10^k is correctly rounded). */
  private number(): number {
    const b = this.bytes;
    let digits = 0;
    let count = 0;
    let scale = 1;
    let c = b[this.i];
    for (; c !== undefined && c >= 0x30 && c <= 0x39; c = b[++this.i]) {
      digits = digits * 10 + (c - 0x30);
      count++;
    }
    if (count === 0 || (count > 1 && b[this.i - count] === 0x30)) throw notFast; // none, or a leading zero: JSON.parse decides
    if (c === DOT) {
      let fraction = 0;
      for (c = b[++this.i]; c !== undefined && c >= 0x30 && c <= 0x39; c = b[++this.i]) {
        digits = digits * 10 + (c - 0x30);
        scale *= 10;
        fraction++;
        count++;
      }
      if (fraction === 0) throw new Error('not a number');
    }
    if (c === 0x65 || c === 0x45 || count > 15) throw notFast; // an exponent, or more digits than are exact
    return digits / scale;
  }

  private string(): string {
    const b = this.bytes;
    this.expect(QUOTE);
    const from = this.i;
    let hash = 0x811c9dc5;
    for (let c = b[this.i]; c !== QUOTE; c = b[++this.i]) {
      if (c === undefined || this.i >= this.end) throw new Error('not a string');
      if (c === BACKSLASH || c >= 0x80) throw notFast;
      hash = Math.imul(hash ^ c, 0x01000193);
    }
    const length = this.i - from;
    this.i++;
    const key = hash * 64 + Math.min(length, 63);
    const known = this.names.get(key);
    if (known !== undefined && known.length === length && sameAscii(known, b, from)) return known;
    const name = b.toString('latin1', from, from + length);
    if (known === undefined) this.names.set(key, name);
    return name;
  }
}

function sameAscii(s: string, b: Buffer, from: number): boolean {
  for (let k = 0; k < s.length; k++) if (s.charCodeAt(k) !== b[from + k]) return false;
  return true;
}
