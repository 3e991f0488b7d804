/**
 * Reads the turns of a window from the ledger's files, oldest file first, for `mai stats`: files
 * last written before the window are not opened; of the others the stats file (stats-line.ts) is
 * read when its lines add up to its ledger file, else the ledger file itself. Either way a line
 * outside the window is skipped on its leading numbers without being parsed.
 */
import { readFile, stat } from 'node:fs/promises';
import { ledgerFiles } from './ledger-files.ts';
import { STATS_END } from './record.ts';
import type { StatsInput } from './stats-line.ts';
import { StatsLineDecoder } from './stats-line-decode.ts';

export interface ReadOptions {
  dir: string;
  maxFiles: number;
  since: number;
  until: number;
}

export interface ReadOutcome {
  /** Ledger files read (by their stats file or themselves). */
  files: number;
  /** Ledger lines that could not be read (cut by a crash or a full disk, or not Mai's). */
  unreadable: number;
  /** Of `files`, how many were read through their stats file. */
  viaStats: number;
}

const NEWLINE = 0x0a;
const COMMA = 0x2c;
const OPEN = 0x5b;
const LEDGER_PREFIX = Buffer.from('{"t":');
const STATS_END_BYTES = Buffer.from(STATS_END);

/** The unsigned integer at `from` up to a comma: [value, index after the comma], or null. */
function integerAt(bytes: Buffer, from: number, end: number): [number, number] | null {
  let n = 0;
  let i = from;
  for (; i < end; i++) {
    const c = bytes[i]!;
    if (c === COMMA) return i > from ? [n, i + 1] : null;
    if (c < 0x30 || c > 0x39) return null;
    n = n * 10 + (c - 0x30);
  }
  return null;
}

function startsWith(bytes: Buffer, prefix: Buffer, start: number, end: number): boolean {
  return end - start > prefix.length && bytes.compare(prefix, 0, prefix.length, start, start + prefix.length) === 0;
}

/** A stats file whose lines added up but one of them could not be read: stats starts again without it. */
export class StatsFileDistrusted extends Error {
  constructor(readonly file: string) {
    super(`${file} has a line that is not a stats line`);
  }
}

/**
 * The turns in the window from a stats file, when it stands for all of its ledger file's
 * `ledgerBytes` (false, and nothing added, when it does not). A first pass checks that on each
 * line's two leading numbers; the second decodes the lines in the window straight into `add`.
 */
async function fromStatsFile(file: string, ledgerBytes: number, options: ReadOptions, decoder: StatsLineDecoder, add: (turn: StatsInput) => void): Promise<boolean> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch {
    return false;
  }
  if (bytes.length > 0 && bytes[bytes.length - 1] !== NEWLINE) return false; // torn at the end
  let covered = 0;
  for (let start = 0; start < bytes.length; ) {
    const end = bytes.indexOf(NEWLINE, start);
    if (bytes[start] !== OPEN) return false;
    const t = integerAt(bytes, start + 1, end);
    const n = t && integerAt(bytes, t[1], end);
    if (!t || !n) return false;
    covered += n[0];
    start = end + 1;
  }
  if (covered !== ledgerBytes) return false;
  for (let start = 0; start < bytes.length; ) {
    const end = bytes.indexOf(NEWLINE, start);
    const t = integerAt(bytes, start + 1, end)![0];
    if (t >= options.since && t <= options.until) {
      let turn: StatsInput;
      try {
        turn = decoder.decode(bytes, start, end);
      } catch {
        throw new StatsFileDistrusted(file);
      }
      add(turn);
    }
    start = end + 1;
  }
  return true;
}

/** The turns in the window from a ledger file; lines that cannot be read are counted. */
function fromLedgerBytes(bytes: Buffer, options: ReadOptions, add: (turn: StatsInput) => void): number {
  let unreadable = 0;
  for (let start = 0; start < bytes.length; ) {
    let end = bytes.indexOf(NEWLINE, start);
    if (end === -1) end = bytes.length;
    if (end > start) {
      const t = startsWith(bytes, LEDGER_PREFIX, start, end) ? integerAt(bytes, start + LEDGER_PREFIX.length, end) : null;
      if (t === null) unreadable++;
      else if (t[0] >= options.since && t[0] <= options.until) {
        // Only the part stats reads is decoded and parsed (the ranking, reasons and text are not).
        const cut = bytes.indexOf(STATS_END_BYTES, start);
        try {
          let turn = (cut !== -1 && cut < end ? JSON.parse(`${bytes.toString('utf8', start, cut)}}`) : null) as StatsInput | null;
          // A line whose keys come in another order (written by hand, or by another tool) is parsed whole.
          if (!turn || turn.outcome === undefined || turn.attempts === undefined) turn = JSON.parse(bytes.toString('utf8', start, end)) as StatsInput;
          add(turn);
        } catch {
          unreadable++; // a line cut by a crash or a full disk: the others still count
        }
      }
    }
    start = end + 1;
  }
  return unreadable;
}

/** Reads every file of the window into `add`; throws StatsFileDistrusted for a stats file to leave out (`distrusted`) in a new read. */
export async function readTurns(options: ReadOptions, add: (turn: StatsInput) => void, distrusted: ReadonlySet<string> = new Set()): Promise<ReadOutcome> {
  const outcome: ReadOutcome = { files: 0, unreadable: 0, viaStats: 0 };
  const decoder = new StatsLineDecoder();
  for (const file of ledgerFiles(options.dir, options.maxFiles)) {
    let size: number;
    try {
      const info = await stat(file.ledger);
      if (info.mtimeMs < options.since) continue; // last written before the window
      size = info.size;
    } catch {
      continue; // missing (never rotated that far) or rotated away just now
    }
    if (!distrusted.has(file.stats) && (await fromStatsFile(file.stats, size, options, decoder, add))) {
      outcome.files++;
      outcome.viaStats++;
      continue;
    }
    let bytes: Buffer;
    try {
      bytes = await readFile(file.ledger);
    } catch {
      continue;
    }
    outcome.files++;
    outcome.unreadable += fromLedgerBytes(bytes, options, add);
  }
  return outcome;
}
