#!/usr/bin/env node
/**
 * `npm test`: builds dist/ (the suites spawn `node dist/rpc/bin.js`), then runs the type check, the
 * linter, the suite on Node and the suite on Deno side by side, at most MAI_TEST_JOBS (default 3)
 * at a time, in that order of start. Most of the suites' time is spent waiting on processes, sockets
 * and timers, so on a 2-core machine the four overlap well: the Deno suite starts as soon as the
 * type check or the linter is done. Each step's output is printed whole when it ends (no
 * interleaved lines), then a summary of every step's wall time; any failure fails the run.
 * MAI_TEST_JOBS=1 runs the steps one after another, as `npm test` did before.
 *
 *   node scripts/test.js                              (npm test)
 *   MAI_TEST_REPORT_DIR=/tmp/profile npm test         (also node.json and deno.json: each file's duration)
 */
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** @param {string} name */
const bin = (name) => join(root, 'node_modules', '.bin', name);
const node = process.execPath;
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');

/** @typedef {{ name: string, command: string, args: string[] }} Step */

/** @type {Step} */
const build = { name: 'build', command: node, args: [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'] };
/** MAI_TEST_REPORT_DIR=DIR: each suite also writes DIR/<runtime>.json (vitest's JSON report: every file's duration). */
const reportDir = process.env['MAI_TEST_REPORT_DIR'];
/** @param {string} runtime */
const report = (runtime) => (reportDir ? ['--reporter=default', '--reporter=json', `--outputFile.json=${join(resolve(reportDir), `${runtime}.json`)}`] : []);
/** @type {Step[]} */
const steps = [
  { name: 'vitest (Node)', command: node, args: [vitest, 'run', ...report('node')] },
  { name: 'typecheck', command: node, args: [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json', '--noEmit'] },
  { name: 'lint', command: bin('eslint'), args: ['.'] },
  { name: 'vitest (Deno)', command: bin('deno'), args: ['run', '-A', vitest, 'run', '--config', 'vitest.deno.config.ts', ...report('deno')] },
];

const jobs = Math.max(1, Number(process.env['MAI_TEST_JOBS'] ?? 3) || 3);

/**
 * Runs one step with its output kept, and prints it whole when the step ends.
 * @param {Step} step
 * @returns {Promise<{ name: string, code: number, seconds: number }>}
 */
function run(step) {
  const started = performance.now();
  return new Promise((done) => {
    /** @type {Buffer[]} */
    const output = [];
    // MAI_TEST_BUILT: the suites' global setup need not build dist/ again (it was just built).
    const child = spawn(step.command, step.args, { cwd: root, env: { ...process.env, MAI_TEST_BUILT: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk) => output.push(chunk));
    child.stderr.on('data', (chunk) => output.push(chunk));
    const finish = (/** @type {number} */ code) => {
      const seconds = (performance.now() - started) / 1000;
      process.stdout.write(`\n===== ${step.name}: ${code === 0 ? 'ok' : `FAILED (exit ${code})`} in ${seconds.toFixed(1)} s =====\n`);
      process.stdout.write(Buffer.concat(output));
      done({ name: step.name, code, seconds });
    };
    child.on('error', (error) => {
      output.push(Buffer.from(`${step.command}: ${error.message}\n`));
      finish(127);
    });
    child.on('close', (code) => finish(code ?? 1));
  });
}

const results = [await run(build)];
if (results[0]?.code === 0) {
  const queue = [...steps];
  const worker = async () => {
    for (let step = queue.shift(); step; step = queue.shift()) results.push(await run(step));
  };
  await Promise.all(Array.from({ length: Math.min(jobs, steps.length) }, worker));
}
const failed = results.filter((r) => r.code !== 0);
process.stdout.write(`\nnpm test (${jobs} at a time): ${results.map((r) => `${r.name} ${r.seconds.toFixed(1)} s${r.code === 0 ? '' : ' FAILED'}`).join(' · ')}\n`);
process.exit(failed.length === 0 && results.length === steps.length + 1 ? 0 : 1);
