#!/usr/bin/env node
/** The `mai` executable (package.json bin → dist/rpc/bin.js). */
import { main } from './cli/main.ts';

const code = await main(process.argv.slice(2));
// Flush what is buffered, then leave even if a worker or a socket would keep the loop alive.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
