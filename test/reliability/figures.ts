/**
 * What the standing reliability suites (test/reliability/) share: whether the long variants run,
 * and where each suite leaves the figures it measured, so that one script can write them into
 * RELIABILITY.md. `npm test` runs the short variants and records nothing; the `reliability` run sets
 * MAI_RELIABILITY=long and MAI_RELIABILITY_OUT to a folder, and every suite writes `<suite>.json` there.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** True when the long variants run (MAI_RELIABILITY=long). */
export const longRun = process.env['MAI_RELIABILITY'] === 'long';

/** Picks the count for this run: `short` under `npm test`, `long` in the reliability run. */
export function scale(short: number, long: number): number {
  return longRun ? long : short;
}

/** Keeps one suite's figures as `<suite>.json` in MAI_RELIABILITY_OUT; does nothing when it is unset. */
export async function recordFigures(suite: string, figures: Record<string, unknown>): Promise<void> {
  const out = process.env['MAI_RELIABILITY_OUT'];
  if (!out) return;
  await mkdir(out, { recursive: true });
  await writeFile(join(out, `${suite}.json`), `${JSON.stringify({ suite, recordedAt: new Date().toISOString(), runtime: 'Deno' in globalThis ? 'deno' : 'node', figures }, null, 2)}\n`);
}
