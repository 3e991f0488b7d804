/**
 * A separate process that takes core/file-lock.ts's lock on a file and holds it, for
 * file-lock.test.ts:
 *   deno run -A test/support/lock-holder.ts FILE STALE_MS
 * It says "held" on stdout once it holds the lock. A line on stdin makes it append "released" to
 * FILE, then release the lock and exit; or the test kills it while it holds the lock.
 */
import { appendFileSync } from 'node:fs';
import process from 'node:process';
import { lockFile } from '../../core/file-lock.ts';

const [file, stale] = process.argv.slice(2);
if (!file || !stale) throw new Error('usage: lock-holder FILE STALE_MS');
const release = await lockFile(file, { stale: Number(stale), retries: 0 });
const asked = new Promise((resolve) => process.stdin.once('data', resolve));
process.stdout.write('held\n');
await asked;
process.stdin.pause();
appendFileSync(file, 'released\n');
await release();
process.stdout.write('done\n');
