/**
 * A full garbage collection now, in the test's own process (Node and Deno alike, without starting
 * the runtime with --expose-gc): for tests of code that must keep working after one, such as a
 * time limit that a collection must not lose.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

export function collectGarbage(): void {
  gc();
}
