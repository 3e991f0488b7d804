#!/usr/bin/env node
/**
 * `npm run bench` (after the build): what Mai costs on top of the model, against the limit and a
 * peer — overhead per turn, protocol throughput, monitor cost, cold start, batch throughput and
 * failover. Prints a table per benchmark and the targets, and writes bench/RESULTS.md.
 *   node bench/run.js            the full run (a few minutes), writes bench/RESULTS.md
 *   node bench/run.js --smoke    one small iteration of each (well under a minute), writes nothing;
 *                                the suites run two at a time (their numbers mean nothing anyway)
 *   --only overhead,batch        just these;  --out FILE  write the results there instead
 *   --jobs N                     suites at once (default 1, or 2 with --smoke); each suite has its own
 *                                servers, folders and hosts, but a measured run should keep 1
 *   --refresh-analysis           only copy bench/analysis.md (kept by hand) into bench/RESULTS.md
 *   --baseline BIN               cold-start also times another build's bin (e.g. main's, built in its own
 *                                checkout), spawn for spawn beside this one: an A/B in one run
 * The per-turn overhead of two builds (yours and main's), turn by turn in one run:
 *   node bench/ab.js --build new=dist/bundle/mai.js --build main=BIN   (its header says more)
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { checksTable, load, machine, resultsMarkdown, textTable, withAnalysis } from './lib/report.js';
import { benchDir, binPath } from './lib/setup.js';
import { batch, coldStart, failover, host, monitor, observability, overhead, throughput } from './suites/index.js';

/** @type {Record<string, (options: { smoke: boolean, baseline?: string }) => Promise<import('./lib/report.js').SuiteResult>>} */
const suites = { overhead, throughput, monitor, 'cold-start': coldStart, batch, failover, host, observability };

const { values } = parseArgs({
  options: {
    smoke: { type: 'boolean' },
    only: { type: 'string' },
    out: { type: 'string' },
    jobs: { type: 'string' },
    baseline: { type: 'string' },
    'refresh-analysis': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});
if (values.help) {
  process.stdout.write(`Usage: node bench/run.js [--smoke] [--only ${Object.keys(suites).join(',')}] [--jobs N] [--out FILE] [--baseline BIN] | --refresh-analysis\n`);
  process.exit(0);
}
if (values['refresh-analysis']) {
  const file = join(benchDir, 'RESULTS.md');
  writeFileSync(file, withAnalysis(readFileSync(file, 'utf8'), readFileSync(join(benchDir, 'analysis.md'), 'utf8')));
  process.stdout.write(`Copied bench/analysis.md into ${file}; its measurements are unchanged.\n`);
  process.exit(0);
}
if (!existsSync(binPath)) {
  process.stderr.write(`bench: ${binPath} is missing; build first (npm run build), or run \`npm run bench\`.\n`);
  process.exit(2);
}
const smoke = values.smoke ?? false;
const jobs = values.jobs === undefined ? (smoke ? 2 : 1) : Number(values.jobs);
if (!Number.isInteger(jobs) || jobs < 1) {
  process.stderr.write(`bench: --jobs must be a whole number of at least 1, got "${values.jobs}".\n`);
  process.exit(2);
}
const only = values.only ? values.only.split(',').map((s) => s.trim()) : Object.keys(suites);
for (const name of only) {
  if (!suites[name]) {
    process.stderr.write(`bench: no benchmark "${name}"; there are ${Object.keys(suites).join(', ')}.\n`);
    process.exit(2);
  }
}

const m = machine();
const date = new Date();
const loadBefore = load();
process.stdout.write(
  `Mai benchmarks${smoke ? ' (smoke: one small iteration of each; the numbers mean nothing)' : ''}\n` +
    `${date.toISOString()} · ${m.cores} cores · ${m.memoryGiB.toFixed(1)} GiB · Node ${m.node} · load ${loadBefore}\n\n`,
);
const started = performance.now();
/** @type {import('./lib/report.js').SuiteResult[]} */
const results = [];
let failed = false;
/** Each suite's outcome (null: it failed), printed in the listed order as soon as every earlier one is in. */
/** @type {Array<(result: import('./lib/report.js').SuiteResult | null) => void>} */
const settle = [];
const outcomes = only.map(() => /** @type {Promise<import('./lib/report.js').SuiteResult | null>} */ (new Promise((resolve) => settle.push(resolve))));
let next = 0;
const worker = async () => {
  for (let index = next++; index < only.length; index = next++) {
    const name = /** @type {string} */ (only[index]);
    const runSuite = /** @type {(typeof suites)[string]} */ (suites[name]);
    process.stderr.write(`bench: ${name}…\n`);
    await runSuite({ smoke, ...(values.baseline ? { baseline: resolve(values.baseline) } : {}) }).then(
      (result) => settle[index]?.(result),
      (error) => {
        process.stderr.write(`bench: ${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
        settle[index]?.(null);
      },
    );
  }
};
const running = Promise.all(Array.from({ length: Math.min(jobs, only.length) }, worker));
for (const outcome of outcomes) {
  const result = await outcome;
  if (!result) {
    failed = true;
    continue;
  }
  results.push(result);
  process.stdout.write(`${result.title}  (${result.seconds.toFixed(1)} s)\n${textTable(result.header, result.rows)}\n\n`);
}
await running;
const seconds = (performance.now() - started) / 1000;
const summary = checksTable(results.flatMap((r) => r.checks));
process.stdout.write(`Targets\n${textTable(summary.header, summary.rows)}\n\n${seconds.toFixed(0)} s in all · load ${load()}\n`);

const out = values.out ?? (smoke || values.only ? undefined : join(benchDir, 'RESULTS.md'));
if (out && !failed) {
  const command = `npm run bench  (node bench/run.js${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''})`;
  writeFileSync(out, resultsMarkdown({ command, date, loadBefore, loadAfter: load(), seconds, suites: results, analysisFile: join(benchDir, 'analysis.md') }));
  process.stdout.write(`Wrote ${out}\n`);
} else if (out) {
  process.stderr.write(`bench: ${out} was not written: a benchmark failed\n`);
}
process.exit(failed ? 1 : 0);
