/**
 * The ledger as a turn sink: each finished turn becomes one JSON line (core/ledger/record.ts) and
 * its stats line (core/ledger/stats-line.ts) for the writer. Called in the observer's batches,
 * after the turns' replies went out: building and serialising the lines is never on a reply's path.
 */
import type { LedgerConfig } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import type { TurnSink } from '../observe/turn-observer.ts';
import type { TurnSummary } from '../observe/turn-summary.ts';
import { ledgerDir } from './ledger-files.ts';
import { ledgerRecord } from './record.ts';
import { statsLine } from './stats-line.ts';
import { LedgerWriter } from './ledger-writer.ts';

export interface LedgerOptions {
  config: LedgerConfig;
  stateDir: string;
  /** The backends and whether each is reachable, as the catalogue knows now. */
  backends: () => ReadonlyArray<{ name: string; reachable: boolean }>;
  log: Logger;
}

export class Ledger implements TurnSink {
  readonly name = 'ledger';
  readonly dir: string;
  private readonly writer: LedgerWriter;

  constructor(private readonly options: LedgerOptions) {
    this.dir = ledgerDir(options.stateDir);
    this.writer = new LedgerWriter({
      dir: this.dir,
      maxFileBytes: Math.round(options.config.maxFileMb * 1024 * 1024),
      maxFiles: options.config.maxFiles,
      log: options.log,
    });
  }

  turnEnded(summary: TurnSummary): void {
    const record = ledgerRecord(summary, { content: this.options.config.content, backends: this.options.backends() });
    const line = JSON.stringify(record);
    this.writer.write(line, statsLine(record, Buffer.byteLength(line) + 1));
  }

  /** Resolves once every line so far is on disk (or dropped by a pause). */
  flush(): Promise<void> {
    return this.writer.flush();
  }

  /** At exit: what is queued is written synchronously. */
  flushSync(): void {
    this.writer.flushSync();
  }

  /** Writes what is queued and closes the files. */
  close(): Promise<void> {
    return this.writer.close();
  }
}
