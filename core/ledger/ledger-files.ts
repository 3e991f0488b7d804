/** Where the ledger lives in the state directory, and the names of its rotated files. */
import { join } from 'node:path';

export const LEDGER_DIR = 'ledger';
export const LEDGER_FILE = 'ledger.jsonl';

export function ledgerDir(stateDir: string): string {
  return join(stateDir, LEDGER_DIR);
}

/** ledger.jsonl (0, the one written to), then ledger.1.jsonl … older and older. */
export function ledgerFile(dir: string, index: number): string {
  return join(dir, index === 0 ? LEDGER_FILE : `ledger.${index}.jsonl`);
}

/** The files a reader looks at, oldest first (at most `maxFiles`; missing ones are skipped by the reader). */
export function ledgerFiles(dir: string, maxFiles: number): string[] {
  const files: string[] = [];
  for (let i = maxFiles - 1; i >= 0; i--) files.push(ledgerFile(dir, i));
  return files;
}
