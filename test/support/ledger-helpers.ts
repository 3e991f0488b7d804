/** Reading the ledger back from disk, a logger that keeps what it is told, and making a folder read-only even for root. */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { LedgerRecord } from '../../core/ledger/record.ts';
import type { Logger } from '../../core/log.ts';

/** Every line of <stateDir>/ledger/ledger.jsonl, parsed (a line that does not parse fails the test). */
export function readLedger(stateDir: string, file = 'ledger.jsonl'): LedgerRecord[] {
  const path = join(stateDir, 'ledger', file);
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as LedgerRecord);
}

export interface KeptLog extends Logger {
  lines: Array<{ level: string; message: string }>;
}

export function keptLogger(): KeptLog {
  const lines: KeptLog['lines'] = [];
  const log: KeptLog = {
    lines,
    error: (message) => void lines.push({ level: 'error', message }),
    warn: (message) => void lines.push({ level: 'warn', message }),
    info: (message) => void lines.push({ level: 'info', message }),
    debug: (message) => void lines.push({ level: 'debug', message }),
    child: () => log,
  };
  return log;
}

function writable(dir: string): boolean {
  const probe = join(dir, `.probe-${process.pid}`);
  try {
    writeFileSync(probe, 'x');
    unlinkSync(probe);
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes `dir` read-only: mode 0555, and for root (whom modes do not stop) the immutable
 * attribute. Throws when the folder is still writable, so a test never passes on a writable one.
 * Returns the undo.
 */
export function makeReadOnly(dir: string): () => void {
  chmodSync(dir, 0o555);
  let immutable = false;
  if (writable(dir)) {
    execFileSync('chattr', ['+i', dir]);
    immutable = true;
  }
  if (writable(dir)) throw new Error(`could not make ${dir} read-only`);
  return () => {
    if (immutable) execFileSync('chattr', ['-i', dir]);
    chmodSync(dir, 0o755);
  };
}
