#!/usr/bin/env node
/**
 * `npm run reliability`: runs the standing reliability suites (test/reliability/) in their long
 * variants (MAI_RELIABILITY=long), each leaving `<suite>.json` in a temporary folder
 * (MAI_RELIABILITY_OUT; test/reliability/figures.ts), then writes RELIABILITY.md at the repository
 * root from every such file it finds: the command, the machine, the date and each suite's figures.
 *
 *   npm run reliability                      (builds dist/ first through vitest's global setup)
 *   node scripts/reliability.js --write DIR  (only writes RELIABILITY.md from the JSON files in DIR)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const command = 'npm run reliability';

/** @param {string} out */
function runLongSuites(out) {
  const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
  // One suite at a time: they measure how long things take, and two cores are all there is.
  const result = spawnSync(process.execPath, [vitest, 'run', '--no-file-parallelism', 'test/reliability/'], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, MAI_RELIABILITY: 'long', MAI_RELIABILITY_OUT: out },
  });
  return result.status ?? 1;
}

/**
 * One figure as text: numbers and strings as they are, lists and objects as compact JSON.
 * @param {unknown} value
 * @returns {string}
 */
function show(value) {
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : value.toFixed(3);
  if (typeof value === 'string') return value;
  const json = JSON.stringify(value);
  return json.length > 400 ? `${json.slice(0, 400)}…` : json;
}

/**
 * @param {Record<string, unknown>} figures
 * @param {string} [prefix]
 * @returns {string[]}
 */
function rows(figures, prefix = '') {
  /** @type {string[]} */
  const out = [];
  for (const [key, value] of Object.entries(figures)) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (value && typeof value === 'object' && !Array.isArray(value)) out.push(...rows(/** @type {Record<string, unknown>} */ (value), name));
    else if (Array.isArray(value) && value.length > 20) out.push(`| ${name} | ${value.length} entries (in the JSON) |`);
    else out.push(`| ${name} | ${show(value)} |`);
  }
  return out;
}

/**
 * @param {string} dir
 * @param {number} [exitCode]
 * @returns {number} how many suites were written
 */
export function writeReport(dir, exitCode) {
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).sort() : [];
  const suites = files.map((file) => JSON.parse(readFileSync(join(dir, file), 'utf8')));
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const lines = [
    '# Reliability',
    '',
    `Written by \`${command}\` (every suite in test/reliability/ in its long variant, MAI_RELIABILITY=long).`,
    '',
    `- Date: ${new Date().toISOString()}`,
    `- Machine: ${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, ${process.platform} ${process.arch}, Node ${process.version}`,
    `- Suites: ${suites.length}${exitCode === undefined ? '' : `; the test run ${exitCode === 0 ? 'passed' : `FAILED (exit code ${exitCode})`}`}`,
    '',
  ];
  for (const suite of suites) {
    lines.push(`## ${suite.suite}`, '', `Recorded ${suite.recordedAt} on ${suite.runtime}.`, '', '| figure | value |', '|---|---|', ...rows(suite.figures), '');
  }
  if (suites.length === 0) lines.push('No suite recorded figures.', '');
  writeFileSync(join(root, 'RELIABILITY.md'), lines.join('\n'));
  return suites.length;
}

if (process.argv[2] === '--write') {
  writeReport(resolve(process.argv[3] ?? '.'));
} else {
  const out = mkdtempSync(join(tmpdir(), 'mai-reliability-'));
  const code = runLongSuites(out);
  const count = writeReport(out, code);
  rmSync(out, { recursive: true, force: true });
  process.stdout.write(`RELIABILITY.md: ${count} suite(s)${code === 0 ? '' : `; the run failed (exit code ${code})`}\n`);
  process.exitCode = code;
}
