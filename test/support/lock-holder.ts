/**
 * A separate process that takes core/file-lock.ts's lock on a file and holds it, for
 * file-lock.test.ts:
 *   deno run -A test/support/lock-holder.ts FILE STALE_MS
 * It says "held" on stdout once it holds the lock. A line on stdin makes it append "released" to
 * FILE, then release the lock and exit; or the test kills it while it holds the lock. It exits
 * when its stdin ends, so a failed test never leaves it behind.
 */
import { appendFileSync } from 'node:fs';
import process from 'node:process';
import { lockFile } from '../../core/file-lock.ts';

const [file, stale] = process.argv.slice(2);
if (!file || !stale) throw new Error('usage: lock-holder FILE STALE_MS');
const release = await lockFile(file, { stale: Number(stale), retries: 0 });
// A line asks for the release; the end of stdin (the test process gone, or a test that failed before
// asking) ends this process (proper-lockfile releases its lock on the way out).
const asked = new Promise<boolean>((resolve) => {
  process.stdin.once('data', () => resolve(true));
  process.stdin.once('end', () => resolve(false));
});
process.stdout.write('held\n');
if (!(await asked)) process.exit(1);
process.stdin.pause();
appendFileSync(file, 'released\n');
await release();
process.stdout.write('done\n');
