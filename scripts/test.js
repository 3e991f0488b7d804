#!/usr/bin/env node
/**
 * `npm test`: builds dist/ (scripts/build.js: the suites spawn the `mai` bin, dist/bundle/mai.js), then runs the suite on Node
 * and on Deno at once, with the type check, the linter and the import-graph check one after another in a third slot. Each
 * step's output is printed whole when it ends (no interleaved lines; a failed step's at the very end, so the tail of a
 * CI log shows the failure), then every step's wall time and CPU time (user +
 * system of the step and the processes it waited for) and the run's total, so that a run shows where its time went; any
 * failure fails the run. MAI_TEST_JOBS (default 3) caps the steps at once: 1 runs them one after another.
 *
 * Why both suites at once: each mostly waits on processes, sockets and timers (on an idle 2-core machine the Node suite
 * kept 1.37 cores busy on average, the Deno suite 1.39), so one beside the other fills the idle core instead of the Deno
 * suite waiting ~100 s for the Node suite's last, slowest files; the checks (~9 CPU-s in all since the type check is
 * TypeScript 7's and the linter oxlint) fill gaps too. Measured interleaved on one clean clone at load 11-15 (other work on the machine): 791 s together
 * against 919 s and 826 s with the Deno suite after the Node one, the same ~420-440 CPU-s; at that load both orders
 * had the same load-bound failures (context-crash, a test past its 30 s timeout). MAI_TEST_SUITES_TOGETHER=0 runs the
 * Deno suite after the Node suite, the checks beside the Node suite, as before: on a machine already loaded by other
 * work, four test workers at once weigh more there and a spawning test may exceed its wait.
 *
 *   node scripts/test.js                              (npm test)
 *   MAI_TEST_REPORT_DIR=/tmp/profile npm test         (also node.json and deno.json: each file's duration)
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** @param {string} name */
const bin = (name) => join(root, 'node_modules', '.bin', name);
const node = process.execPath;
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');

/** @typedef {{ name: string, command: string, args: string[], after?: string }} Step */

/** @type {Step} */
const build = { name: 'build', command: node, args: [join(root, 'scripts', 'build.js')] };
/** MAI_TEST_REPORT_DIR=DIR: each suite also writes DIR/<runtime>.json (vitest's JSON report: every file's duration). */
const reportDir = process.env['MAI_TEST_REPORT_DIR'];
/** @param {string} runtime */
const report = (runtime) => (reportDir ? ['--reporter=default', '--reporter=json', `--outputFile.json=${join(resolve(reportDir), `${runtime}.json`)}`] : []);
/** @type {Step} */
const nodeSuite = { name: 'vitest (Node)', command: node, args: [vitest, 'run', ...report('node')] };
/** @type {Step[]} */
const checks = [
  // TypeScript 7's tsc (the native compiler; `typescript` itself stays 5.9 for madge, which needs the JavaScript API
  // TypeScript 7 does not have): the same diagnostics as 5.9's, for ~4 CPU-s instead of ~28. One checker:
  // beside the suite on 2 cores, more checkers cost CPU (~6.5 CPU-s with the default 4) and end no sooner.
  { name: 'typecheck', command: node, args: [join(root, 'node_modules', 'typescript7', 'bin', 'tsc'), '-p', 'tsconfig.json', '--noEmit', '--checkers', '1'] },
  // oxlint (.oxlintrc.json: the rule set of ESLint's and typescript-eslint's recommended configs, rule by rule): ~0.3 CPU-s
  // for the ~350 files, where ESLint took ~17 (most of it typescript-estree turning each file into ESTree).
  { name: 'lint', command: bin('oxlint'), args: ['--deny-warnings'] },
  // ~4.2 CPU-s: madge parses each file of core/, plugins/ and rpc/ with typescript-estree (TypeScript's parse ~1.4, the
  // ESTree built from it ~1.2), loads its detectives and TypeScript 5.9 (~0.9) and resolves each import with TypeScript 5.9.
  { name: 'import graph', command: node, args: [join(root, 'scripts', 'import-graph.js')] },
];
const together = process.env['MAI_TEST_SUITES_TOGETHER'] !== '0';
/** @type {Step} */
const denoSuite = {
  name: 'vitest (Deno)',
  command: bin('deno'),
  args: ['run', '-A', vitest, 'run', '--config', 'vitest.deno.config.ts', ...report('deno')],
  ...(together ? {} : { after: 'vitest (Node)' }),
};
/** @type {Step[]} Started in this order as slots free up: together, both suites first and the checks one after another in the third slot. */
const steps = together ? [nodeSuite, denoSuite, ...checks] : [nodeSuite, ...checks, denoSuite];

const jobs = Math.max(1, Number(process.env['MAI_TEST_JOBS'] ?? 3) || 3);

/**
 * How each step is started so that its CPU time can be read when it ends: through POSIX sh, whose
 * `times` prints the user and system time of the children it waited for (the step and every process
 * the step waited for in turn; a process that detaches, like a shared host a test left to its idle
 * timeout, is not counted). Written to fd 3, apart from the step's output. Without /bin/sh
 * (Windows) the step runs directly and its CPU time is not shown.
 * @param {Step} step
 * @returns {{ command: string, args: string[], timed: boolean }}
 */
function launch(step) {
  if (process.platform === 'win32' || !existsSync('/bin/sh')) return { command: step.command, args: step.args, timed: false };
  return { command: '/bin/sh', args: ['-c', '"$@"; code=$?; times >&3; exit $code', 'sh', step.command, ...step.args], timed: true };
}

/**
 * The CPU seconds (user + system) in the second line of sh's `times` (its children), or undefined.
 * @param {string} text
 */
function childrenCpu(text) {
  const line = text.trim().split('\n')[1];
  const times = [...(line ?? '').matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  return times.length === 2 ? (times[0] ?? 0) + (times[1] ?? 0) : undefined;
}

/** @param {{ seconds: number, cpu?: number | undefined }} r */
const timing = (r) => `${r.seconds.toFixed(1)} s${r.cpu === undefined ? '' : ` (${r.cpu.toFixed(1)} CPU-s)`}`;

/**
 * Runs one step with its output kept, and prints it whole when the step ends with its wall time and,
 * where sh can tell, the CPU time it and its processes used.
 * @param {Step} step
 * @returns {Promise<{ name: string, code: number, seconds: number, cpu: number | undefined }>}
 */
function run(step) {
  const started = performance.now();
  return new Promise((done) => {
    /** @type {Buffer[]} */
    const output = [];
    let times = '';
    const { command, args, timed } = launch(step);
    const child = spawn(command, args, { cwd: root, env: stepEnv, stdio: ['ignore', 'pipe', 'pipe', timed ? 'pipe' : 'ignore'] });
    child.stdout?.on('data', (chunk) => output.push(chunk));
    child.stderr?.on('data', (chunk) => output.push(chunk));
    const fd3 = /** @type {import('node:stream').Readable | null | undefined} */ (child.stdio[3]);
    fd3?.on('data', (chunk) => (times += chunk.toString('utf8')));
    const finish = (/** @type {number} */ code) => {
      const result = { name: step.name, code, seconds: (performance.now() - started) / 1000, cpu: childrenCpu(times) };
      const text = Buffer.concat([Buffer.from(`\n===== ${step.name}: ${code === 0 ? 'ok' : `FAILED (exit ${code})`} in ${timing(result)} =====\n`), ...output]);
      // A failed step's output is kept for the end, after every step that passed: a CI log read from its tail (or cut to
      // it) then shows the failure itself, not the last suite to finish, which passed.
      if (code === 0) process.stdout.write(text);
      else failedOutput.push(text);
      done(result);
    };
    child.on('error', (error) => {
      output.push(Buffer.from(`${step.command}: ${error.message}\n`));
      finish(127);
    });
    child.on('close', (code) => finish(code ?? 1));
  });
}

/**
 * The steps' environment. MAI_TEST_BUILT: the suites' global setup need not build dist/ again (it was just built).
 * Without NODE_EXTRA_CA_CERTS: Node 20 reads and parses the certificates that variable names when a process starts, not at
 * its first TLS connection — with a distribution's whole bundle (/etc/ssl/certs/ca-certificates.crt, as machines behind a
 * TLS-inspecting proxy set it) ~0.08 CPU-s for every Node process, `node -e 0` 0.02 → 0.10 CPU-s. The suites start a few
 * hundred Node processes (each `mai`, host and fake server, each isolated test file's worker; the Node suite alone:
 * 92.5 → 80.5 CPU-s), and none makes a TLS connection: every test speaks to 127.0.0.1, and npm (package-lock.test.ts) runs
 * --offline. Mai itself keeps the variable's meaning for its users (an https backend behind such a proxy).
 */
/** @type {NodeJS.ProcessEnv} */
const stepEnv = { ...process.env, MAI_TEST_BUILT: '1' };
delete stepEnv['NODE_EXTRA_CA_CERTS'];

/** @type {Buffer[]} The output of each step that failed, printed last. */
const failedOutput = [];
const results = [await run(build)];
if (results[0]?.code === 0) {
  /** @type {Map<string, Promise<unknown>>} */
  const ended = new Map();
  let free = jobs;
  /** @type {Array<() => void>} */
  const waiting = [];
  const slot = () => (free > 0 ? (free--, Promise.resolve()) : new Promise((/** @type {(value?: unknown) => void} */ go) => waiting.push(go)));
  const release = () => (waiting.length > 0 ? waiting.shift()?.() : free++);
  for (const step of steps) {
    const dependency = step.after === undefined ? undefined : ended.get(step.after);
    ended.set(
      step.name,
      (async () => {
        await dependency;
        await slot();
        results.push(await run(step));
        release();
      })(),
    );
  }
  await Promise.all(ended.values());
}
const failed = results.filter((r) => r.code !== 0);
for (const text of failedOutput) process.stdout.write(text);
const wall = performance.now() / 1000;
const cpu = results.reduce((sum, r) => sum + (r.cpu ?? 0), 0);
process.stdout.write(
  `\nnpm test (${jobs} at a time): ${results.map((r) => `${r.name} ${timing(r)}${r.code === 0 ? '' : ' FAILED'}`).join(' · ')}` +
    `\nnpm test: ${wall.toFixed(1)} s wall${results.every((r) => r.cpu !== undefined) ? `, ${cpu.toFixed(1)} CPU-s in its steps (${(cpu / wall).toFixed(2)} cores busy on average)` : ''}\n`,
);
process.exit(failed.length === 0 && results.length === steps.length + 1 ? 0 : 1);
