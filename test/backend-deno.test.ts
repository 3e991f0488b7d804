/**
 * Mai runs on Deno 2 as well as Node: the three HTTP backends, run by a real Deno process against
 * the loopback servers, list, stream, and classify a cut stream, a refused connection and an
 * abort the same way they do on Node (Deno's fetch words those errors differently).
 * The child is Deno whichever runtime runs the tests, so it runs once, in the Deno suite
 * (`npm run test:deno`); under Node's it would start the very same Deno process again.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const child = fileURLToPath(new URL('./support/deno-backends-child.ts', import.meta.url));
const deno = fileURLToPath(new URL('../node_modules/.bin/deno', import.meta.url));

function runDeno(timeoutMs: number): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    let stderr = '';
    const proc = spawn(deno, ['run', '-A', '--quiet', '--node-modules-dir=manual', child], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe.runIf('Deno' in globalThis)('the HTTP backends under Deno', () => {
  it('list, stream, and classify stream-cut, unreachable and cancelled as on Node', async () => {
    const run = await runDeno(50_000);
    expect(run.code, run.stderr).toBe(0);
    const line = run.stderr.split('\n').find((l) => l.startsWith('REPORT '));
    expect(line, run.stderr).toBeDefined();
    const report = JSON.parse(line!.slice('REPORT '.length));
    expect(report.ollama).toEqual({ models: ['m:latest', 'cut:latest', 'slow:latest'], answer: { text: 'ollama answers', done: 'stop' }, cut: { text: 'abcd', error: 'stream-cut' } });
    expect(report.lmstudio).toEqual({ models: ['q', 'cut'], answer: { text: 'lmstudio answers', done: 'stop' }, cut: { text: 'abcd', error: 'stream-cut' } });
    expect(report.openai).toEqual({ models: ['o', 'cut'], answer: { text: 'openai answers', done: 'stop' }, cut: { text: 'abcd', error: 'stream-cut' } });
    expect(report.abort.error).toBe('cancelled');
    expect(report.abort.text.length).toBeGreaterThan(0);
    expect(report.refused).toBe('unreachable');
  }, 60_000);
});
