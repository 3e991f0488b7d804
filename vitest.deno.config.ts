/**
 * The same suite under Deno 2: `npm run test:deno` runs vitest itself with Deno
 * (`deno run -A node_modules/vitest/vitest.mjs run --config vitest.deno.config.ts`), so the test
 * files, and every `mai` they spawn through `process.execPath`, run on Deno. Loaded by Node it
 * refuses to run: a "Deno suite" that silently ran on Node would prove nothing.
 */
import { suite } from './vitest.config.ts';

if (!('Deno' in globalThis)) {
  throw new Error('vitest.deno.config.ts runs the suite under Deno: use `npm run test:deno`, not Node.');
}

/** Tests of Node itself rather than of Mai, each with why it cannot hold under Deno. */
const nodeOnly = [
  // The benchmark is a Node tool (`npm run bench` is `node bench/run.js`) that compares Mai with
  // Portkey's gateway, a third-party server it starts through process.execPath with Node's
  // `--import` preload; under Deno that gateway answers the overhead suite with 500 and the smoke
  // run fails on the comparison, not on Mai. Mai's part of it (the built mai over pipes) runs under
  // Deno in the rpc-* and cli-* suites.
  'test/bench-smoke.test.ts',
];

/**
 * Files whose every process is the same whichever runtime runs the suite: under Deno they would
 * start the very same programs again and prove nothing more (the Node suite runs them).
 */
const sameOnEitherRuntime = [
  // Runs `npm install --package-lock-only` (npm is a Node program, from PATH) and compares files:
  // ~2 CPU-s of npm that the Node suite's run of the file already spends on the same inputs.
  'test/package-lock.test.ts',
  // The import-graph check is a Node tool (`npm run graph`; `npm test` runs it with Node): its layer rules are plain
  // JavaScript over a graph, the same under Deno, and madge runs on Node alone.
  'test/import-graph.test.ts',
];

// test/deno-serve.test.ts checks that the files really run on the runtime named here.
// The shared files in child processes: Vitest's thread workers end with parentPort.removeAllListeners,
// which Deno 2.9 does not implement (an unhandled "Not implemented" failed a run whose tests all passed).
export default suite({ exclude: [...nodeOnly, ...sameOnEitherRuntime], env: { MAI_TEST_RUNTIME: 'deno' }, sharedPool: 'forks' });
