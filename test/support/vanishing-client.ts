/**
 * A client that vanishes the way editors do: `mai serve` (the built dist/bundle/mai.js) started with
 * stdin, stdout and stderr as Unix socketpairs (what Neovim's jobs hand their children) or as the
 * runtime's own child-process pipes, and any of its ends closed at once. Node has no socketpair
 * call: a listening Unix socket in a temp dir is connected to three times, and the connecting ends
 * are given to the child as its stdio (this works on Node and on Deno).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { binPath, maiEnv, repoRoot } from './rpc-client.ts';

export type Transport = 'socketpair' | 'pipe';
export type End = 'stdin' | 'stdout' | 'stderr';
export const ends: readonly End[] = ['stdin', 'stdout', 'stderr'];

export interface VanishingServe {
  child: ChildProcess;
  pid: number;
  /** Replies (and notifications) read so far, NDJSON. */
  messages: Array<Record<string, unknown>>;
  /** The last 20,000 characters the process wrote to stderr. */
  stderr(): string;
  send(message: unknown): void;
  waitFor(match: (m: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Closes these ends of the client's side, all in the same tick. */
  close(which: readonly End[]): void;
  /** What the child's fd is on Linux ("socket" or "pipe"). */
  kindOf(end: End): string;
  /** Resolves true if the process ended within `ms`. */
  goneWithin(ms: number): Promise<boolean>;
  /** CPU time the process used so far (ms; 0 once it is gone). */
  cpuMs(): number;
  /** Kills the process if it is still there (a failed case must not leave one behind). */
  kill(): Promise<void>;
}

async function socketPairs(dir: string, count: number): Promise<{ theirs: Socket[]; ours: Socket[]; close(): void }> {
  const server = createServer();
  const path = join(dir, 'pairs.sock');
  await new Promise<void>((resolve) => server.listen(path, resolve));
  const theirs: Socket[] = [];
  const ours: Socket[] = [];
  for (let i = 0; i < count; i++) {
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
    const client = connect(path);
    await new Promise<void>((resolve) => client.once('connect', () => resolve()));
    theirs.push(client);
    ours.push(await accepted);
  }
  return { theirs, ours, close: () => server.close() };
}

export async function spawnVanishing(options: { transport: Transport; dir: string; config: string; env?: Record<string, string> }): Promise<VanishingServe> {
  const env = maiEnv(join(options.dir, 'state'), options.env);
  let stdin: Writable;
  let stdout: Readable;
  let stderr: Readable;
  let child: ChildProcess;
  if (options.transport === 'socketpair') {
    const pairs = await socketPairs(options.dir, 3);
    child = spawn(process.execPath, [binPath, 'serve', '--config', options.config], { env, cwd: repoRoot, stdio: pairs.theirs });
    for (const theirs of pairs.theirs) theirs.destroy();
    pairs.close();
    [stdin, stdout, stderr] = pairs.ours as [Socket, Socket, Socket];
  } else {
    child = spawn(process.execPath, [binPath, 'serve', '--config', options.config], { env, cwd: repoRoot, stdio: 'pipe' });
    [stdin, stdout, stderr] = [child.stdin!, child.stdout!, child.stderr!];
  }
  for (const stream of [stdin, stdout, stderr]) stream.on('error', () => {});
  const pid = child.pid!;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let alive = true;
  void exited.then(() => (alive = false));
  const messages: Array<Record<string, unknown>> = [];
  const waiters: Array<{ match: (m: Record<string, unknown>) => boolean; resolve: (m: Record<string, unknown>) => void }> = [];
  let pending = '';
  stdout.setEncoding('utf8');
  stdout.on('data', (chunk: string) => {
    pending += chunk;
    for (let newline = pending.indexOf('\n'); newline !== -1; newline = pending.indexOf('\n')) {
      const message = JSON.parse(pending.slice(0, newline)) as Record<string, unknown>;
      pending = pending.slice(newline + 1);
      messages.push(message);
      for (const waiter of waiters.filter((w) => w.match(message))) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(message);
      }
    }
  });
  let stderrText = '';
  stderr.on('data', (chunk: Buffer) => (stderrText = (stderrText + chunk.toString('utf8')).slice(-20_000)));
  const streams: Record<End, Writable | Readable> = { stdin, stdout, stderr };
  return {
    child,
    pid,
    messages,
    stderr: () => stderrText,
    send: (message) => void stdin.write(`${JSON.stringify(message)}\n`),
    waitFor: (match, timeoutMs = 15_000) => {
      const found = messages.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching message within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({ match, resolve: (m) => (clearTimeout(timer), resolve(m)) });
      });
    },
    close: (which) => {
      for (const end of which) streams[end].destroy();
    },
    kindOf: (end) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${ends.indexOf(end)}`).split(':')[0]!;
      } catch {
        return 'gone';
      }
    },
    goneWithin: (ms) => Promise.race([exited.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(!alive), ms))]),
    cpuMs: () => {
      try {
        const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
        return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, in clock ticks of 10 ms
      } catch {
        return 0;
      }
    },
    kill: async () => {
      for (const stream of [stdin, stdout, stderr]) stream.destroy();
      if (!alive) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}
