#!/usr/bin/env node
/** The `mai` executable (package.json bin → dist/bundle/mai.js, the bundle scripts/build.js makes of dist/rpc/bin.js). */
import { main } from './cli/main.ts';

const code = await main(process.argv.slice(2));
// Flush what is buffered, then leave even if a worker or a socket would keep the loop alive — and
// even if the flush never completes or fails (a client that stopped reading, a closed stderr).
setTimeout(() => process.exit(code), 1_000).unref();
const leave = () => process.exit(code);
try {
  process.stdout.write('', () => (process.stderr.destroyed ? leave() : process.stderr.write('', leave)));
} catch {
  leave();
}
