/**
 * Where the ledger lives in the state directory, and the names of its rotated files. Each ledger
 * file has a stats file beside it (ledger.jsonl → ledger.stats, ledger.1.jsonl → ledger.1.stats):
 * the few fields `mai stats` reads, one compact line per ledger line (core/ledger/stats-line.ts).
 */
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

/** The stats file beside ledger file `index` (ledger.stats, ledger.1.stats …). */
export function statsFile(dir: string, index: number): string {
  return join(dir, index === 0 ? 'ledger.stats' : `ledger.${index}.stats`);
}

/** The files a reader looks at, oldest first (at most `maxFiles`; missing ones are skipped by the reader). */
export function ledgerFiles(dir: string, maxFiles: number): Array<{ ledger: string; stats: string }> {
  const files: Array<{ ledger: string; stats: string }> = [];
  for (let i = maxFiles - 1; i >= 0; i--) files.push({ ledger: ledgerFile(dir, i), stats: statsFile(dir, i) });
  return files;
}
