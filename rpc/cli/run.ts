/**
 * What the `mai` bin does once its code is loaded (rpc/bin.ts loads it, from the V8 code cache on
 * Node): run the command line, then leave with its exit code.
 */
import { main } from './main.ts';

export async function runBin(argv: readonly string[]): Promise<void> {
  const code = await main(argv);
  // Flush what is buffered, then leave even if a worker or a socket would keep the loop alive — and
  // even if the flush never completes or fails (a client that stopped reading, a closed stderr).
  setTimeout(() => process.exit(code), 1_000).unref();
  const leave = () => process.exit(code);
  try {
    process.stdout.write('', () => (process.stderr.destroyed ? leave() : process.stderr.write('', leave)));
  } catch {
    leave();
  }
}
