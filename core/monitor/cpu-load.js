/**
 * The share of all cores busy since the previous reading, from the OS's own counters (os.cpus():
 * libuv reads /proc/stat on Linux — no process is started). Replaces systeminformation's
 * currentLoad(), which on Linux also runs `cat /proc/stat | grep cpu` through a shell (three
 * processes, synchronously) on every call, for steal/guest figures Mai does not use. Plain
 * JavaScript because the sampling worker imports it (Node cannot load a `.ts` worker).
 */
import { cpus } from 'node:os';

/** The first reading has no earlier one to compare with: it waits this long and reads again. */
export const PRIME_MS = 250;

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
 * A reader that remembers its previous reading. Its first call waits `primeMs` to have an interval
 * to measure (the load since boot would say nothing about now); a call too soon after the previous
 * one (counters unmoved) answers the previous share.
 * @param {number} [primeMs]
 * @returns {() => Promise<number | null>}
 */
export function createCpuLoad(primeMs = PRIME_MS) {
  /** @type {CpuTimes | null} */
  let previous = null;
  /** @type {number | null} */
  let lastShare = null;
  return async function cpuLoad() {
    if (!previous) {
      previous = cpuTimes();
      await new Promise((resolve) => setTimeout(resolve, primeMs));
    }
    const now = cpuTimes();
    const share = busyShare(previous, now);
    if (share === null) return lastShare;
    previous = now;
    lastShare = share;
    return share;
  };
}
