/**
 * Appends ledger lines, and the stats line of each (core/ledger/stats-line.ts) to the stats file
 * beside it. Nothing here runs on a reply's path: the observer hands lines over in batches after
 * the turns ended (core/observe/turn-observer.ts), and each batch is one append to each file
 * through handles kept open. One stat of ledger.jsonl per batch tells whether another Mai
 * process sharing the folder rotated it (then the handles are opened again) and how big it is
 * (past maxFileBytes it is rotated, keeping a bounded number of files: ledger-rotation.ts).
 *
 * The writer can never fail a turn: the first error (a full disk, a read-only folder) is one
 * warning, then the ledger pauses, drops what comes, and tries again later. Lines still queued
 * when the process exits are written synchronously (`writeSync`), so a normal exit loses none.
 */
import { appendFileSync, mkdirSync, type Stats } from 'node:fs';
import { mkdir, open, stat, type FileHandle } from 'node:fs/promises';
import type { Logger } from '../log.ts';
import { ledgerFile, statsFile } from './ledger-files.ts';
import { rotateLedger } from './ledger-rotation.ts';

export interface LedgerWriterOptions {
  dir: string;
  maxFileBytes: number;
  maxFiles: number;
  log: Logger;
  /** After an error, how long the ledger stays paused before it tries again. */
  pauseMs?: number;
}

/** Pending lines beyond this are dropped (a disk slower than the turns; the ledger never grows memory without bound). */
const MAX_PENDING = 10_000;

interface Entry {
  line: string;
  stats: string | undefined;
}

interface OpenFiles {
  ledger: FileHandle;
  stats: FileHandle | null;
  dev: number;
  ino: number;
}

const joined = (lines: string[]) => `${lines.join('\n')}\n`;

export class LedgerWriter {
  private pending: Entry[] = [];
  private draining: Promise<void> | null = null;
  private pausedUntil = 0;
  private warned = false;
  private dropped = 0;
  private files: OpenFiles | null = null;
  private readonly file: string;

  constructor(private readonly options: LedgerWriterOptions) {
    this.file = ledgerFile(options.dir, 0);
  }

  /** True while an error keeps the ledger from writing. */
  get paused(): boolean {
    return Date.now() < this.pausedUntil;
  }

  /** Queues one line (no newline) and its stats line; both are appended once the current batch is handed over. Never throws. */
  write(line: string, stats?: string): void {
    if (this.paused || this.pending.length >= MAX_PENDING) {
      this.dropped++;
      return;
    }
    this.pending.push({ line, stats });
    this.draining ??= Promise.resolve().then(() => this.drain());
  }

  /** Resolves once every queued line is written (or dropped by a pause). */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  /** Writes what is queued and closes the files. */
  async close(): Promise<void> {
    await this.flush();
    await this.closeFiles();
  }

  /** At exit: what is still queued goes out now, synchronously (errors are swallowed: the process is leaving). */
  flushSync(): void {
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0 || this.paused) return;
    try {
      mkdirSync(this.options.dir, { recursive: true });
      appendFileSync(this.file, joined(batch.map((e) => e.line)), { mode: 0o600 });
      const stats = batch.flatMap((e) => (e.stats === undefined ? [] : [e.stats]));
      if (stats.length > 0) appendFileSync(statsFile(this.options.dir, 0), joined(stats), { mode: 0o600 });
    } catch {
      // nothing to tell anyone any more
    }
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending;
        this.pending = [];
        try {
          await this.append(batch);
          if (this.warned) {
            this.options.log.info(`the ledger writes again to ${this.file}${this.dropped ? ` (${this.dropped} turn(s) went unrecorded meanwhile)` : ''}`);
            this.warned = false;
            this.dropped = 0;
          }
        } catch (error) {
          await this.closeFiles();
          this.pause(error, batch.length);
        }
      }
    } finally {
      this.draining = null;
    }
  }

  /** Appends the batch, rotating before the lines that would take the file past maxFileBytes (a line longer than that gets a file of its own). */
  private async append(batch: Entry[]): Promise<void> {
    let { files, size } = await this.current();
    for (let from = 0; from < batch.length; ) {
      let to = from;
      let bytes = 0;
      for (; to < batch.length; to++) {
        const line = Buffer.byteLength(batch[to]!.line) + 1;
        if (size + bytes > 0 && size + bytes + line > this.options.maxFileBytes) break;
        bytes += line;
      }
      if (to === from) {
        await this.closeFiles();
        await rotateLedger(this.options.dir, this.options.maxFiles);
        ({ files, size } = await this.current());
        continue;
      }
      await this.appendTo(files, batch.slice(from, to));
      size += bytes;
      from = to;
    }
  }

  /** Both appends at once: their completions come back together, one wake-up of the process instead of two. */
  private async appendTo(files: OpenFiles, batch: Entry[]): Promise<void> {
    const stats = batch.flatMap((e) => (e.stats === undefined ? [] : [e.stats]));
    await Promise.all([files.ledger.appendFile(joined(batch.map((e) => e.line))), stats.length > 0 ? this.appendStats(files, joined(stats)) : undefined]);
  }

  /** The stats file only speeds `mai stats` up: when it cannot be written, stats reads the ledger itself. */
  private async appendStats(files: OpenFiles, text: string): Promise<void> {
    try {
      files.stats ??= await open(statsFile(this.options.dir, 0), 'a', 0o600);
      await files.stats.appendFile(text);
    } catch (error) {
      this.options.log.debug('the ledger could not append to its stats file (mai stats reads the ledger instead)', error);
    }
  }

  /** The files written to now: the handles kept open while ledger.jsonl is still the file they hold. */
  private async current(): Promise<{ files: OpenFiles; size: number }> {
    let now: Stats | null = null;
    try {
      now = await stat(this.file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const held = this.files;
    // Without inode numbers (some platforms say 0) the files are opened again for each batch.
    if (held && now && now.ino !== 0 && now.ino === held.ino && now.dev === held.dev) return { files: held, size: now.size };
    await this.closeFiles();
    if (!now) await mkdir(this.options.dir, { recursive: true });
    const ledger = await open(this.file, 'a', 0o600);
    try {
      const opened = await ledger.stat();
      this.files = { ledger, stats: null, dev: opened.dev, ino: opened.ino };
      return { files: this.files, size: opened.size };
    } catch (error) {
      await ledger.close().catch(() => undefined);
      throw error;
    }
  }

  private async closeFiles(): Promise<void> {
    const files = this.files;
    this.files = null;
    await files?.ledger.close().catch(() => undefined);
    await files?.stats?.close().catch(() => undefined);
  }

  private pause(error: unknown, lost: number): void {
    this.dropped += lost + this.pending.length;
    this.pending = [];
    this.pausedUntil = Date.now() + (this.options.pauseMs ?? 60_000);
    if (this.warned) return;
    this.warned = true;
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOSPC' || code === 'EDQUOT'
        ? 'the disk is full'
        : code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
          ? 'the folder is read-only for Mai'
          : (error as Error).message;
    this.options.log.warn(
      `the ledger cannot write to ${this.file} (${why}${code ? `, ${code}` : ''}); turns go on unrecorded and Mai tries again every ${Math.round((this.options.pauseMs ?? 60_000) / 1000)} s. Free the disk or fix the folder's permissions, or set ledger.enabled: false.`,
    );
  }
}
