/**
 * The order test files start in: the longest first, so that no long file starts last and leaves
 * one worker busy while the other idles (on two cores that tail was most of a minute). Vitest
 * orders by the durations of the last run, but `npm ci` empties node_modules and its cache with
 * it, so on a clean clone it falls back to file size — and the longest files here are short texts
 * that start whole processes (`npm run bench --smoke`, `npm run demo`, the CLI). This list names
 * them, longest first, as measured by `vitest --reporter=json` (issue 18); every other file
 * keeps Vitest's own order after them. With a warm cache Vitest's order stands. Either way the
 * files of the "shared" project (vitest.config.ts) then go last, in one block (sharedLast below).
 * A stale list costs only speed, never a result.
 */
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

export const slowestFiles: readonly string[] = [
  'test/bench-smoke.test.ts',
  'test/demo.test.ts',
  'test/cli-commands.test.ts',
  'test/editor-nvim.test.ts',
  'test/deno-serve.test.ts',
  'test/host.test.ts',
  'test/context-crash.test.ts',
  'test/gguf-backend.test.ts',
  'test/host-bad-input.test.ts',
  'test/host-build.test.ts',
  'test/reliability/vanishing-clients.test.ts',
  'test/reliability/backend-faults.test.ts',
  'test/cli-batch.test.ts',
  'test/gguf-mai.test.ts',
  'test/metrics.test.ts',
  'test/select-switching.test.ts',
  'test/stats.test.ts',
  'test/load-bad-input.test.ts',
];

const rank = (spec: TestSpecification): number => {
  const index = slowestFiles.findIndex((file) => spec.moduleId.endsWith(`/${file}`));
  return index === -1 ? slowestFiles.length : index;
};

/**
 * The files of a non-isolated project (vitest.config.ts's "shared") after all the others, in one
 * block: Vitest hands a worker that keeps its module graph the next file only when the next file in
 * the queue is of the same project, so a shared file between two isolated ones would start a fresh
 * worker, and the graph it saves would be imported again. At the end they are also the short files
 * that fill the tail while the other worker finishes its last long file.
 */
function sharedLast(files: TestSpecification[]): TestSpecification[] {
  const shared = (spec: TestSpecification) => spec.project.config.isolate === false;
  return [...files.filter((spec) => !shared(spec)), ...files.filter(shared)];
}

/** `files` in an order drawn from `seed` (mulberry32), the same for the same seed. */
function shuffled<T>(files: readonly T[], seed: number): T[] {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const out = [...files];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    // `vitest --sequence.seed=N`: the files in an order drawn from N (tests keep theirs; `--sequence.shuffle`
    // shuffles both), to catch a shared file that depends on the ones before it. Vitest's own file shuffle
    // applies only to its own sequencer.
    const { seed } = this.ctx.config.sequence;
    if (seed !== undefined) return sharedLast(shuffled(files, seed));
    const ordered = await super.sort(files);
    // Durations of a previous run on this machine (a warm cache) are the better guide: keep Vitest's order.
    const known = (spec: TestSpecification) => this.ctx.cache.getFileTestResults(`${spec.project.name}:${relative(this.ctx.config.root, spec.moduleId)}`);
    // Array.prototype.sort is stable: files off the list keep Vitest's order among themselves.
    const slowFirst = files.every(known) ? ordered : [...ordered].sort((a, b) => rank(a) - rank(b));
    return sharedLast(slowFirst);
  }
}
