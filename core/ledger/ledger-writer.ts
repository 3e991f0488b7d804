/**
 * Appends ledger lines off the reply's path: `write` only queues the line; a later tick appends
 * every queued line in one write (open, append, close — so several Mai processes can share the
 * file, each write landing whole at its end) and rotates the file past its size, keeping a bounded
 * number of files. Rotation claims the file by renaming it, so when two processes rotate at once
 * only one does. The writer can never fail a turn: the first error (a full disk, a read-only
 * folder) is one warning, then the ledger pauses, drops what comes, and tries again later.
 */
import { appendFile, mkdir, rename, stat, unlink } from 'node:fs/promises';
import type { Logger } from '../log.ts';
import { ledgerFile } from './ledger-files.ts';

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

export class LedgerWriter {
  private pending: string[] = [];
  private draining: Promise<void> | null = null;
  private pausedUntil = 0;
  private warned = false;
  private dropped = 0;
  private readonly file: string;

  constructor(private readonly options: LedgerWriterOptions) {
    this.file = ledgerFile(options.dir, 0);
  }

  /** True while an error keeps the ledger from writing. */
  get paused(): boolean {
    return Date.now() < this.pausedUntil;
  }

  /** Queues one line (no newline); it is written on a later tick. Never throws. */
  write(line: string): void {
    if (this.paused || this.pending.length >= MAX_PENDING) {
      this.dropped++;
      return;
    }
    this.pending.push(line);
    this.draining ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.drain());
  }

  /** Resolves once every queued line is written (or dropped by a pause). */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const lines = this.pending;
        this.pending = [];
        const text = `${lines.join('\n')}\n`;
        try {
          await this.append(text);
          if (this.warned) {
            this.options.log.info(`the ledger writes again to ${this.file}${this.dropped ? ` (${this.dropped} turn(s) went unrecorded meanwhile)` : ''}`);
            this.warned = false;
            this.dropped = 0;
          }
        } catch (error) {
          this.pause(error, lines.length);
        }
      }
    } finally {
      this.draining = null;
    }
  }

  private async append(text: string): Promise<void> {
    const bytes = Buffer.byteLength(text);
    let size = 0;
    try {
      size = (await stat(this.file)).size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      await mkdir(this.options.dir, { recursive: true });
    }
    if (size > 0 && size + bytes > this.options.maxFileBytes) await this.rotate();
    await appendFile(this.file, text, { mode: 0o600 });
  }

  /** ledger.jsonl becomes ledger.1.jsonl, each older one moves up one, the oldest past maxFiles goes. */
  private async rotate(): Promise<void> {
    const claim = `${this.file}.${process.pid}.rotating`;
    try {
      await rename(this.file, claim);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // another process rotated it just now
      throw error;
    }
    const { dir, maxFiles } = this.options;
    const gone = async (file: string) => unlink(file).catch(ignoreMissing);
    if (maxFiles <= 1) return gone(claim);
    await gone(ledgerFile(dir, maxFiles - 1));
    for (let i = maxFiles - 2; i >= 1; i--) await rename(ledgerFile(dir, i), ledgerFile(dir, i + 1)).catch(ignoreMissing);
    await rename(claim, ledgerFile(dir, 1));
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

function ignoreMissing(error: unknown): void {
  if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
}
