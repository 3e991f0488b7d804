/**
 * What a benchmark suite reports, and the two ways it is shown: a plain-text table on stdout and
 * bench/RESULTS.md (the command, the machine, the date and load, every table, every target with
 * pass or fail, and the analysis kept in bench/analysis.md).
 */
import { readFileSync } from 'node:fs';
import { cpus, freemem, loadavg, totalmem, platform, release } from 'node:os';

/**
 * @typedef {object} Check
 * @property {string} name what is checked
 * @property {string} target e.g. "≤ 0.5 ms"
 * @property {string} measured
 * @property {boolean} pass
 */

/**
 * @typedef {object} SuiteResult
 * @property {string} id
 * @property {string} title
 * @property {string[]} header
 * @property {string[][]} rows
 * @property {Check[]} checks
 * @property {string[]} notes how it was measured
 * @property {number} seconds how long the suite took
 */

/**
 * Left-aligned columns, two spaces apart.
 * @param {string[]} header
 * @param {string[][]} rows
 */
export function textTable(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  /** @param {string[]} cells */
  const line = (cells) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/**
 * @param {string[]} header
 * @param {string[][]} rows
 */
export function markdownTable(header, rows) {
  /** @param {string[]} cells */
  const line = (cells) => `| ${cells.map((c) => c.replaceAll('|', '\\|')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** The machine, as RESULTS.md states it. */
export function machine() {
  const cores = cpus();
  return {
    cores: cores.length,
    cpu: cores[0]?.model.trim() ?? 'unknown',
    memoryGiB: totalmem() / 1024 ** 3,
    freeGiB: freemem() / 1024 ** 3,
    node: process.version,
    os: `${platform()} ${release()}`,
  };
}

export function load() {
  return loadavg().map((l) => l.toFixed(2)).join(', ');
}

/** Where the hand-kept analysis starts in RESULTS.md (everything after it comes from bench/analysis.md). */
export const ANALYSIS_MARKER = '<!-- bench/analysis.md follows: kept by hand, not measured by this run -->';

/**
 * RESULTS.md with its analysis replaced by the current bench/analysis.md; the measured part as it was.
 * @param {string} results
 * @param {string} analysis
 */
export function withAnalysis(results, analysis) {
  const at = results.indexOf(ANALYSIS_MARKER);
  if (at === -1) throw new Error('RESULTS.md has no analysis marker: run the full benchmark to write it anew');
  return `${results.slice(0, at)}${ANALYSIS_MARKER}\n\n${analysis.trim()}\n`;
}

/** @param {Check[]} checks */
export function checksTable(checks) {
  return { header: ['target', 'goal', 'measured', 'result'], rows: checks.map((c) => [c.name, c.target, c.measured, c.pass ? 'PASS' : 'FAIL']) };
}

/**
 * @param {{ command: string, date: Date, loadBefore: string, loadAfter: string, seconds: number, suites: SuiteResult[], analysisFile: string }} run
 */
export function resultsMarkdown(run) {
  const m = machine();
  const checks = run.suites.flatMap((s) => s.checks);
  const summary = checksTable(checks);
  let analysis;
  try {
    analysis = readFileSync(run.analysisFile, 'utf8').trim();
  } catch {
    analysis = '_(bench/analysis.md is missing)_';
  }
  const parts = [
    '# Mai benchmark results',
    '',
    '_Written by `npm run bench` (bench/run.js); the tables below are the last full run, unedited. The analysis at the end is kept by hand in bench/analysis.md._',
    '',
    `- **Command:** \`${run.command}\``,
    `- **Date:** ${run.date.toISOString()}`,
    `- **Machine:** ${m.cores} cores (${m.cpu}), ${m.memoryGiB.toFixed(1)} GiB memory, ${m.os}`,
    `- **Node:** ${m.node}`,
    `- **Load average (1, 5, 15 min):** ${run.loadBefore} at the start, ${run.loadAfter} at the end`,
    `- **Duration:** ${run.seconds.toFixed(0)} s`,
    '',
    'Every figure is a ratio or a difference against a reference measured in the same run, interleaved with it where it can be, because the machine is shared and noisy.',
    '',
    '## Targets',
    '',
    markdownTable(summary.header, summary.rows),
    '',
  ];
  for (const suite of run.suites) {
    parts.push(`## ${suite.title}`, '', markdownTable(suite.header, suite.rows), '');
    if (suite.notes.length) parts.push(...suite.notes.map((n) => `- ${n}`), '');
    parts.push(`_${suite.seconds.toFixed(1)} s_`, '');
  }
  parts.push(ANALYSIS_MARKER, '', analysis, '');
  return parts.join('\n');
}
