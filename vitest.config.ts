import { defineConfig } from 'vitest/config';
import { SlowFirstSequencer } from './test/support/slow-first.ts';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Builds dist/ once per run: suites spawn the real `mai` bin (dist/bundle/mai.js).
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Suites spawn real processes and servers; two cores are shared between them.
    maxWorkers: 2,
    // On a clean clone (no durations cached), the files that take longest start first.
    sequence: { sequencer: SlowFirstSequencer },
  },
});
