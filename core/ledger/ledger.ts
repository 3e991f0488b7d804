/** The ledger as a turn sink: each finished turn becomes one JSON line (core/ledger/record.ts) for the writer. */
import type { LedgerConfig } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import type { TurnSink } from '../observe/turn-observer.ts';
import type { TurnSummary } from '../observe/turn-summary.ts';
import { ledgerDir } from './ledger-files.ts';
import { ledgerRecord } from './record.ts';
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
    this.writer.write(JSON.stringify(record));
  }

  /** Resolves once every line so far is on disk (or dropped by a pause). */
  flush(): Promise<void> {
    return this.writer.flush();
  }
}
