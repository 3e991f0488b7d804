/**
 * The order test files start in: the longest first, so that no long file starts last and leaves
 * one worker busy while the other idles (on two cores that tail was most of a minute). Vitest
 * orders by the durations of the last run, but `npm ci` empties node_modules and its cache with
 * it, so on a clean clone it falls back to file size — and the longest files here are short texts
 * that start whole processes (`npm run bench --smoke`, `npm run demo`, the CLI). This list names
 * them, longest first, as measured by `vitest --reporter=json` (issue 18); every other file
 * keeps Vitest's own order after them. With a warm cache Vitest's order stands. A stale list costs
 * only speed, never a result.
 */
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

export const slowestFiles: readonly string[] = [
  'test/bench-smoke.test.ts',
  'test/cli-commands.test.ts',
  'test/demo.test.ts',
  'test/host.test.ts',
  'test/editor-nvim.test.ts',
  'test/reliability/vanishing-clients.test.ts',
  'test/deno-serve.test.ts',
  'test/monitor-event-loop.test.ts',
  'test/host-bad-input.test.ts',
  'test/reliability/backend-faults.test.ts',
  'test/gguf-backend.test.ts',
  'test/context-crash.test.ts',
  'test/select-switching.test.ts',
  'test/load-bad-input.test.ts',
  'test/gguf-mai.test.ts',
  'test/cli-batch.test.ts',
];

const rank = (spec: TestSpecification): number => {
  const index = slowestFiles.findIndex((file) => spec.moduleId.endsWith(`/${file}`));
  return index === -1 ? slowestFiles.length : index;
};

export class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const ordered = await super.sort(files);
    // Durations of a previous run on this machine (a warm cache) are the better guide: keep Vitest's order.
    const known = (spec: TestSpecification) => this.ctx.cache.getFileTestResults(`${spec.project.name}:${relative(this.ctx.config.root, spec.moduleId)}`);
    if (files.every(known)) return ordered;
    // Array.prototype.sort is stable: files off the list keep Vitest's order among themselves.
    return [...ordered].sort((a, b) => rank(a) - rank(b));
  }
}
