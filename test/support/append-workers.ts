/**
 * Deno processes that append to the conversation store beside the test's own process, for the
 * concurrency tests of context-store*.test.ts (the worker: append-worker.ts), started by the `deno`
 * devDependency's binary (harness.ts's denoBin). A worker says "ready" once loaded and starts
 * appending when `go()` writes a line to its stdin, so every writer starts at once without polling
 * for a signal.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { denoBin } from './harness.ts';
import { repoRoot } from './rpc-client.ts';

export interface AppendWorker {
  /** Resolves once the worker has loaded (and, in `fresh` mode, found none of its conversations). */
  ready: Promise<void>;
  /** Starts its appends. */
  go(): void;
  /** Everything it wrote on stdout, once it exited 0. */
  done: Promise<string>;
}

/** `args`: append-worker.ts's arguments (DIR CONVERSATION WRITER TURNS [fresh]). */
export function startAppendWorker(args: readonly string[]): AppendWorker {
  const child = spawn(denoBin, ['run', '--allow-all', join(repoRoot, 'test', 'support', 'append-worker.ts'), ...args], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const ready = new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => ((out += d.toString('utf8')), out.includes('ready') && resolve())));
  child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
  child.stdin.on('error', () => {});
  const done = new Promise<string>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${args[2] ?? 'worker'} exited ${code}: ${err}`))));
  });
  return { ready, done, go: () => void child.stdin.end('go\n') };
}
