/**
 * The benchmark still works: `node bench/run.js --smoke` runs one small iteration of every
 * benchmark against the real built `mai` (and Portkey's gateway) on loopback and prints every
 * table and the targets. It checks that each benchmark ran to the end — its own correctness checks
 * (batch output in input order, failover answered by the fallback after a `restart`) throw and
 * make the run fail — never how fast anything was: the numbers of a smoke run mean nothing, and CI
 * does not run the full benchmark.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './support/rpc-client.ts';

function runSmoke(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, 'bench', 'run.js'), '--smoke'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm run bench, smoke mode', () => {
  it('runs every benchmark once and prints its table and every target', async () => {
    const { code, stdout, stderr } = await runSmoke();
    expect(stderr, stderr).not.toMatch(/failed/);
    expect(code, stderr).toBe(0);
    for (const title of [
      '1. Overhead of a turn',
      '2. Protocol throughput',
      '3. Monitor cost',
      '4. Cold start',
      '5. Batch',
      '6. Failover',
      '7. The shared host',
      '8. Observability',
    ]) {
      expect(stdout).toContain(title);
    }
    // The three paths of the overhead benchmark each answered.
    expect(stdout).toMatch(/openai package, direct\s+\d/);
    expect(stdout).toMatch(/mai serve \(stdio, \$\/progress\)\s+\d/);
    expect(stdout).toMatch(/Portkey gateway 1\.15\.2\s+\d/);
    // Both framings were measured, and every batch run wrote its output in order (a smoke run
    // runs -j 8 alone of -j 1, 4, 8: the same code; test/cli-batch.test.ts checks -j 1 and 4).
    expect(stdout).toMatch(/^content-length\s+[\d,]+\/s/m);
    expect(stdout).toMatch(/^ndjson\s+[\d,]+\/s/m);
    expect(stdout).toMatch(/^mai batch -j 8\s+\d.*\byes$/m);
    expect(stdout).toMatch(/^mai batch -j 8, default config \(slots read from \/props\)\s+\d.*\byes$/m);
    expect(stdout).toMatch(/^mai batch -j 8, default config, two such replicas\s+\d.*\byes$/m);
    expect(stdout).toMatch(/^openai package, 8 at a time \(no Mai\)\s+\d.*\byes$/m);
    // Every target is reported with a verdict.
    const targets = stdout.slice(stdout.indexOf('Targets'));
    expect(targets.match(/\b(PASS|FAIL)$/gm)).toHaveLength(20);
  }, 180_000);
});
