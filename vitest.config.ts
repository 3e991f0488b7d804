import { configDefaults, defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';
import { sharedFiles } from './test/support/shared-files.ts';
import { SlowFirstSequencer } from './test/support/slow-first.ts';

/**
 * The suite as two vitest projects: "shared" runs the files of test/support/shared-files.ts in
 * workers that keep their module graph from file to file (`isolate: false`: Mai, zod, the fake
 * servers are imported once per worker, not once per file), and "isolated" runs every other file,
 * and every new one, with a fresh graph. `exclude` drops files from both (the Deno suite's node-only ones).
 * On Node the shared files run in worker threads (a little less CPU than child processes).
 */
export function suite(options: { exclude?: readonly string[]; env?: Record<string, string>; sharedPool?: 'threads' | 'forks' } = {}) {
  const exclude = [...configDefaults.exclude, ...(options.exclude ?? [])];
  const common = { testTimeout: 30_000, hookTimeout: 60_000 } satisfies TestProjectInlineConfiguration['test'];
  return defineConfig({
    test: {
      // Builds dist/ once per run: suites spawn the real `mai` bin (dist/bundle/mai.js).
      globalSetup: ['test/support/global-setup.ts'],
      // Suites spawn real processes and servers; two cores are shared between them (both projects together).
      maxWorkers: 2,
      // On a clean clone (no durations cached), the files that take longest start first; the shared files run as one block.
      sequence: { sequencer: SlowFirstSequencer },
      ...(options.env ? { env: options.env } : {}),
      projects: [
        { test: { ...common, name: 'shared', include: [...sharedFiles], exclude, isolate: false, pool: options.sharedPool ?? 'threads' } },
        { test: { ...common, name: 'isolated', include: ['test/**/*.test.ts'], exclude: [...exclude, ...sharedFiles] } },
      ],
    },
  });
}

export default suite();
