/**
 * A lock on a file across processes: proper-lockfile's rules (taken with one atomic exclusive
 * create, its mtime refreshed while held, taken over once that mtime is `stale` ms old, reported if
 * lost, released when the process exits), over a storage of its own handed in as proper-lockfile's `fs`:
 * - The lock is a file, `<file>.lock`, not an empty folder: removing a folder (rmdir) costs ~150–190 µs
 *   on this project's ext4 machines, a file's unlink ~10–25 µs, and a lock is taken and released on
 *   every continued turn's path, before its reply.
 * - Its system calls run on the calling thread (microseconds each), not in libuv's thread pool,
 *   proper-lockfile's default: a hand-off and a wake-up each way, three times a turn.
 * - The file names its holder, `<pid>@<host>/<pid namespace> <nonce>`, so a waiter on the same host whose holder has
 *   died (a crash, a SIGKILL) takes the lock over at once, not `stale` ms later: a turn after a crash
 *   was answered 10 s late, a client starting the shared host after a killed one waited 15 s.
 *
 * A holder is taken for dead only when it is named, on this host (its name and pid namespace), and `kill(pid, 0)` says there is
 * no such process (ESRCH). A lock with no name yet (between its create and its write), a holder on
 * another host, a process of another user (EPERM), a reused pid or an older Mai's folder is left to
 * the mtime, as before; so is every lock where the host's name may not be read (Deno without
 * --allow-sys=hostname). A lock is removed only while it holds the name it
 * was judged by (the nonce tells two locks apart even when the file system reuses the inode).
 */
import { Buffer } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { closeSync, openSync, readlinkSync, readSync, rmdirSync, statSync, unlinkSync, utimesSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import process from 'node:process';
import type { LockOptions } from 'proper-lockfile';
import { errno } from './errors.ts';

let host: string | null | undefined;

/**
 * This host as a lock names it: its name, and on Linux its pid namespace (a container that shares
 * the host's name, as with `--network host`, numbers its processes apart). null where the name may
 * not be read (Deno without --allow-sys=hostname): then no holder is judged dead.
 */
function thisHost(): string | null {
  if (host === undefined) {
    try {
      host = hostname();
    } catch {
      host = null;
      return host;
    }
    try {
      host += `/${/\d+/.exec(readlinkSync('/proc/self/ns/pid'))?.[0] ?? ''}`;
    } catch {
      // not Linux, or not readable: the name alone
    }
  }
  return host;
}

type Done = (error: NodeJS.ErrnoException | null) => void;

/** Where a lock's name is read (the calls here are synchronous: one buffer serves them all). */
const nameBuffer = Buffer.alloc(512);

/** The name a lock file holds; '' while it has none yet, or for an older Mai's folder; undefined if gone. */
function nameIn(lock: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(lock, 'r');
  } catch (error) {
    if (errno(error) === 'EISDIR') return '';
    return undefined;
  }
  try {
    return nameBuffer.toString('utf8', 0, readSync(fd, nameBuffer, 0, nameBuffer.length, 0));
  } catch {
    return ''; // a folder, on systems where opening one succeeds
  } finally {
    closeSync(fd);
  }
}

/** Whether `name` names a process of this host that has ended. */
function isDeadHere(name: string): boolean {
  const [holder = ''] = name.split(' ');
  const at = holder.indexOf('@');
  const pid = Number(holder.slice(0, at));
  const here = thisHost();
  if (at <= 0 || here === null || holder.slice(at + 1) !== here || !Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return errno(error) === 'ESRCH';
  }
}

/** The locks this process holds: their names. */
const held = new Map<string, string>();

/**
 * The lock proper-lockfile is taking over, and the name it was judged by, from the stat that called
 * it stale to the removal that follows. The two run in one synchronous chain (every call here
 * answers before it returns), so no other lock attempt of this process comes between them.
 */
const takingOver = new Map<string, string>();

/** Removes `lock` if it still holds `name`: one taken over or retaken since is left alone. */
function removeIf(lock: string, name: string): void {
  const now = nameIn(lock);
  if (now === undefined || now !== name) return;
  try {
    unlinkSync(lock);
  } catch (error) {
    if (errno(error) !== 'EISDIR' && errno(error) !== 'EPERM') throw error;
    rmdirSync(lock); // an older Mai's lock folder
  }
}

/** Releases this process's lock on `lock` (proper-lockfile's unlock, and its release at exit). */
function release(lock: string): void {
  const name = held.get(lock);
  held.delete(lock);
  if (name !== undefined) removeIf(lock, name);
}

/** Runs `work`, answering its error or null to `done` (proper-lockfile's callback style). */
function answer(done: Done, work: () => void): void {
  try {
    work();
  } catch (error) {
    done(error as NodeJS.ErrnoException);
    return;
  }
  done(null);
}

/**
 * The `fs` handed to proper-lockfile for locks that go stale after `stale` ms: the calls it makes
 * (its mkdir and rmdir take and remove the lock file). One per `stale`: proper-lockfile caches on
 * it whether the file system keeps mtimes to the millisecond, which it probes with a utimes and a stat.
 */
const makeLockFs = (stale: number) => ({
  mkdir(lock: string, done: Done): void {
    answer(done, () => {
      const fd = openSync(lock, 'wx');
      const name = `${process.pid}@${thisHost() ?? ''} ${randomUUID()}`;
      try {
        writeSync(fd, name);
      } catch (error) {
        closeSync(fd);
        unlinkSync(lock);
        throw error;
      }
      closeSync(fd);
      held.set(lock, name);
    });
  },
  stat(lock: string, done: (error: NodeJS.ErrnoException | null, stats?: { mtime: Date }) => void): void {
    let stats: { mtime: Date };
    try {
      stats = statSync(lock);
    } catch (error) {
      done(error as NodeJS.ErrnoException);
      return;
    }
    // This process's own lock (its mtime probed or refreshed), or one taken from it: alive either way.
    if (held.has(lock)) return done(null, stats);
    const name = nameIn(lock) ?? '';
    if (name !== '' && isDeadHere(name)) {
      takingOver.set(lock, name);
      return done(null, { mtime: new Date(0) });
    }
    if (stats.mtime.getTime() < Date.now() - stale) takingOver.set(lock, name);
    done(null, stats);
  },
  utimes(lock: string, atime: Date, mtime: Date, done: Done): void {
    answer(done, () => utimesSync(lock, atime, mtime));
  },
  rmdir(lock: string, done: Done): void {
    const judged = takingOver.get(lock);
    takingOver.delete(lock);
    answer(done, () => (judged === undefined ? release(lock) : removeIf(lock, judged)));
  },
  /** proper-lockfile's release of the locks still held when the process exits. */
  rmdirSync: release,
});

const lockFsFor = new Map<number, ReturnType<typeof makeLockFs>>();

/**
 * proper-lockfile (and graceful-fs, retry and signal-exit, which it requires), imported when a
 * process first takes a lock: one that only answers initialize, status or models never needs it.
 */
let lockfile: Promise<typeof import('proper-lockfile')> | undefined;

export interface FileLockOptions {
  /** A lock whose mtime is older than this many ms is taken over (at least 2000: proper-lockfile's floor). */
  stale: number;
  /** How often and how long to try again while another process holds it (the `retry` package's). */
  retries: NonNullable<LockOptions['retries']>;
  /** Called if the lock is taken over while held (this process did not refresh it in time). */
  onCompromised?: (error: Error) => void;
}

/** Takes the lock on `file` (the file `<file>.lock`); resolves to its release. */
export async function lockFile(file: string, options: FileLockOptions): Promise<() => Promise<void>> {
  const { lock } = await (lockfile ??= import('proper-lockfile'));
  const stale = Math.max(options.stale, 2000);
  let fs = lockFsFor.get(stale);
  if (!fs) lockFsFor.set(stale, (fs = makeLockFs(stale)));
  const onCompromised = (error: Error) => {
    // No longer this process's: its stat is judged as any other's (proper-lockfile's path: the file's, resolved, + .lock).
    held.delete(`${resolve(file)}.lock`);
    options.onCompromised?.(error);
  };
  return lock(file, { realpath: false, stale, fs, retries: options.retries, onCompromised });
}
