/**
 * Deno processes that hold core/file-lock.ts's lock on a file (the child: lock-holder.ts), for
 * file-lock.test.ts and context-crash.test.ts: each resolves once its child holds the lock, which
 * it keeps until `release()` (it appends "released" to the file first) or until it is killed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { denoBin } from './harness.ts';
import { repoRoot } from './rpc-client.ts';

export interface LockHolder {
  pid: number;
  child: ChildProcess;
  /** Its exit code, once it has exited. */
  exited: Promise<number | null>;
  /** Asks it to append "released" to the file, release the lock and exit. */
  release(): void;
  /** SIGKILLs it while it holds the lock; resolves once it is gone. */
  kill(): Promise<void>;
}

/** Every holder started and not yet exited: `stopHolders()` (a test's afterEach) kills them. */
const running = new Set<ChildProcess>();

export async function stopHolders(): Promise<void> {
  const closing = [...running].map((child) => new Promise((resolve) => child.once('close', resolve)));
  for (const child of running) child.kill('SIGKILL');
  await Promise.all(closing);
}

export async function holdLock(file: string, staleMs: number): Promise<LockHolder> {
  const child = spawn(denoBin, ['run', '--allow-all', join(repoRoot, 'test', 'support', 'lock-holder.ts'), file, String(staleMs)], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
  child.stdin.on('error', () => {});
  running.add(child);
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => (running.delete(child), resolve(code))));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => ((out += d.toString('utf8')), out.includes('held') && resolve()));
    void exited.then((code) => reject(new Error(`the lock holder exited ${code} before it held the lock: ${err}`)));
  });
  return {
    pid: child.pid as number,
    child,
    exited,
    release: () => void child.stdin.end('release\n'),
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}
