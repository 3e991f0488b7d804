/**
 * core/file-lock.ts across real processes: a lock whose holder was killed is taken over at once
 * (not after its `stale` time, here ten minutes, far beyond the test's timeout), while a living
 * holder, a holder on another host and a lock with no holder's name are waited for, as
 * proper-lockfile's mtime rule has them. The holder is a separate Deno process
 * (support/lock-holders.ts) that takes the lock with the same code.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lockFile } from '../core/file-lock.ts';
import { tempDir, type TempDir } from './support/harness.ts';
import { holdLock, stopHolders } from './support/lock-holders.ts';

/** Longer than any test runs: a lock taken over here was not taken over by its age. */
const STALE = 600_000;
/** One attempt, no waiting: fails with ELOCKED if the lock is held. */
const once = { stale: STALE, retries: 0 };

/** This host as a lock names it: its name and (Linux) its pid namespace. */
const here = `${hostname()}/${/\d+/.exec(readlinkSync('/proc/self/ns/pid'))?.[0] ?? ''}`;

/** A lock file's content: its holder's pid and host, and a nonce. */
const named = (pid: number) => new RegExp(`^${pid}@${here.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} [0-9a-f-]{36}$`);

/** The pid of a process of this host that has ended. */
function deadPid(): number {
  const ended = spawnSync(process.execPath, ['-e', '0']);
  return ended.pid as number;
}

describe('the cross-process file lock', () => {
  let dir: TempDir;
  let file: string;
  beforeEach(async () => {
    dir = await tempDir('mai-lock-');
    file = join(dir.path, 'conversation.jsonl');
    writeFileSync(file, '');
  });
  afterEach(async () => {
    await stopHolders();
    await dir.cleanup();
  });

  it('is a file naming its holder, which its release removes', async () => {
    const release = await lockFile(file, once);
    expect(readFileSync(`${file}.lock`, 'utf8')).toMatch(named(process.pid));
    await release();
    expect(readdirSync(dir.path)).toEqual(['conversation.jsonl']);
  });

  it('takes over at once the lock of a holder that was killed holding it', async () => {
    const held = await holdLock(file, STALE);
    expect(readFileSync(`${file}.lock`, 'utf8')).toMatch(named(held.pid));
    await expect(lockFile(file, once)).rejects.toMatchObject({ code: 'ELOCKED' }); // alive: not taken
    await held.kill();
    const release = await lockFile(file, once);
    expect(readFileSync(`${file}.lock`, 'utf8')).toMatch(named(process.pid));
    await release();
  });

  it('waits for a living holder to release the lock', async () => {
    const held = await holdLock(file, STALE);
    const taking = lockFile(file, { stale: STALE, retries: { retries: 400, minTimeout: 10, maxTimeout: 50 } });
    held.release();
    const release = await taking;
    // The holder wrote this before its release: the lock was not taken from it while it lived.
    expect(readFileSync(file, 'utf8')).toBe('released\n');
    expect(await held.exited).toBe(0);
    await release();
  });

  it('never removes a lock that was taken from it, and judges it as any other once it knows', async () => {
    // Taken over behind the holder's back (as by a process that found it stale): its release leaves the new lock.
    const release = await lockFile(file, once);
    const other = `${deadPid()}@${here} taken`;
    unlinkSync(`${file}.lock`);
    writeFileSync(`${file}.lock`, other);
    await release();
    expect(readFileSync(`${file}.lock`, 'utf8')).toBe(other);
    unlinkSync(`${file}.lock`);

    // Found out by its refresh (proper-lockfile's, every second at the shortest stale time): reported,
    // and that lock's dead holder is then judged as any other's, not taken for this process's own.
    let report: (error: Error) => void = () => {};
    const compromised = new Promise<Error>((resolve) => (report = resolve));
    await lockFile(file, { stale: 2000, retries: 0, onCompromised: (error) => report(error) });
    unlinkSync(`${file}.lock`);
    writeFileSync(`${file}.lock`, other);
    expect(await compromised).toMatchObject({ code: 'ECOMPROMISED' });
    await (await lockFile(file, once))();
    expect(readdirSync(dir.path)).toEqual(['conversation.jsonl']);
  });

  it("leaves to the mtime a lock held on another host or in another pid namespace, one with no holder named yet, and an older Mai's folder", async () => {
    const dead = deadPid();
    const locks = [`${dead}@not-${hostname()}/${here.split('/')[1]} 1`, `${dead}@${hostname()}/1 1`, ''].map((name, i) => {
      const lock = join(dir.path, `${i}.jsonl.lock`);
      writeFileSync(lock, name);
      return lock;
    });
    locks.push(join(dir.path, 'folder.jsonl.lock'));
    mkdirSync(locks[3] as string);
    for (const lock of locks) await expect(lockFile(lock.slice(0, -'.lock'.length), once)).rejects.toMatchObject({ code: 'ELOCKED' });
    // Once old enough, each is taken over as before.
    const old = new Date(Date.now() - 2 * STALE);
    for (const lock of locks) utimesSync(lock, old, old);
    for (const lock of locks) await (await lockFile(lock.slice(0, -'.lock'.length), once))();
    expect(readdirSync(dir.path)).toEqual(['conversation.jsonl']);
  });
});
