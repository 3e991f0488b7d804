/**
 * The share of all cores busy since the previous reading, from the OS's own counters (os.cpus():
 * libuv reads /proc/stat on Linux — no process is started). Replaces systeminformation's
 * currentLoad(), which on Linux also runs `cat /proc/stat | grep cpu` through a shell (three
 * processes, synchronously) on every call, for steal/guest figures Mai does not use. Plain
 * JavaScript because the sampling worker imports it (Node cannot load a `.ts` worker).
 */
import { cpus } from 'node:os';
import process from 'node:process';

/** The first reading has no earlier one to compare with: it waits this long and reads again. */
export const PRIME_MS = 250;

/** The shortest interval a first reading given a baseline measures (it waits for the rest). */
export const MIN_INTERVAL_MS = 100;

/**
 * @typedef {object} CpuTimes
 * @property {number} busy Milliseconds all cores spent on anything but idling, since boot.
 * @property {number} total Milliseconds all cores spent, since boot.
 */

/** @returns {CpuTimes} */
export function cpuTimes() {
  let busy = 0;
  let total = 0;
  for (const { times } of cpus()) {
    const all = times.user + times.nice + times.sys + times.irq + times.idle;
    total += all;
    busy += all - times.idle;
  }
  return { busy, total };
}

/**
 * @typedef {CpuTimes & { at: number, ownMs: number }} CpuBaseline Counters read earlier (`at`:
 * Date.now()), e.g. by the main thread as the monitor started, so the first reading can measure
 * from then; `ownMs`: this process's own CPU time then (every thread), left out of that reading.
 */

/** This process's CPU time (every thread, user + system), in milliseconds. */
function ownCpuMs() {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/**
 * Counters to measure the first reading from, or null where they cannot be read (Deno without
 * --allow-sys=cpus).
 * @returns {CpuBaseline | null}
 */
export function cpuBaseline() {
  try {
    return { ...cpuTimes(), at: Date.now(), ownMs: ownCpuMs() };
  } catch {
    return null;
  }
}

/**
 * Share of the cores busy between two readings, 0..1; null when the counters did not move (no
 * time passed in their 10 ms ticks, or the OS reports zeros).
 * @param {CpuTimes} before
 * @param {CpuTimes} after
 * @returns {number | null}
 */
export function busyShare(before, after) {
  const total = after.total - before.total;
  if (!(total > 0)) return null;
  return Math.min(1, Math.max(0, (after.busy - before.busy) / total));
}

/**
 * A reader that remembers its previous reading. Its first call measures from `baseline` when given
 * one (waiting only until MIN_INTERVAL_MS have passed since it), leaving out what this process
 * itself used meanwhile — Mai's own start-up (loading modules, starting the worker) is not the
 * machine's load; without a baseline it waits `primeMs` to have an interval (the load since boot
 * would say nothing about now). A call too soon after the previous one (counters unmoved) answers
 * the previous share.
 * @param {number} [primeMs]
 * @param {(ms: number) => Promise<void>} [wait]
 * @returns {(baseline?: CpuBaseline | null) => Promise<number | null>}
 */
export function createCpuLoad(primeMs = PRIME_MS, wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms))) {
  /** @type {CpuTimes | null} */
  let previous = null;
  /** @type {number | null} */
  let lastShare = null;
  return async function cpuLoad(baseline) {
    let ownSinceMs = 0;
    if (!previous) {
      if (baseline) {
        previous = { busy: baseline.busy, total: baseline.total };
        const rest = MIN_INTERVAL_MS - (Date.now() - baseline.at);
        if (rest > 0) await wait(rest);
        ownSinceMs = Math.max(0, ownCpuMs() - baseline.ownMs);
      } else {
        previous = cpuTimes();
        await wait(primeMs);
      }
    }
    const now = cpuTimes();
    const share = busyShare(previous, ownSinceMs > 0 ? { busy: now.busy - ownSinceMs, total: now.total } : now);
    if (share === null) return lastShare;
    previous = now;
    lastShare = share;
    return share;
  };
}
