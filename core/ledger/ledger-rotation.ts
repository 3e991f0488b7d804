/**
 * Rotation of the ledger's files: ledger.jsonl becomes ledger.1.jsonl, each older one moves up one,
 * the oldest past maxFiles goes — each ledger file with its stats file. The writer claims the file
 * by renaming it first, so when two Mai processes sharing the folder rotate at once only one does.
 */
import { rename, unlink } from 'node:fs/promises';
import { ledgerFile, statsFile } from './ledger-files.ts';

function ignoreMissing(error: unknown): void {
  if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
}

/** Rotates the pair in `dir`; false when another process rotated ledger.jsonl just now (nothing to do). */
export async function rotateLedger(dir: string, maxFiles: number): Promise<boolean> {
  const claim = `${ledgerFile(dir, 0)}.${process.pid}.rotating`;
  const statsClaim = `${statsFile(dir, 0)}.${process.pid}.rotating`;
  try {
    await rename(ledgerFile(dir, 0), claim);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  const hasStats = await rename(statsFile(dir, 0), statsClaim).then(
    () => true,
    (error: unknown) => (ignoreMissing(error), false),
  );
  const gone = async (file: string) => unlink(file).catch(ignoreMissing);
  if (maxFiles <= 1) {
    await gone(claim);
    if (hasStats) await gone(statsClaim);
    return true;
  }
  await gone(ledgerFile(dir, maxFiles - 1));
  await gone(statsFile(dir, maxFiles - 1));
  for (let i = maxFiles - 2; i >= 1; i--) {
    await rename(ledgerFile(dir, i), ledgerFile(dir, i + 1)).catch(ignoreMissing);
    await rename(statsFile(dir, i), statsFile(dir, i + 1)).catch(ignoreMissing);
  }
  await rename(claim, ledgerFile(dir, 1));
  if (hasStats) await rename(statsClaim, statsFile(dir, 1));
  return true;
}
