/**
 * One resource sample, taken in a tinypool worker thread (never on the main thread): the CPU load
 * from the OS's counters (cpu-load.js; its first reading measures from the counters the monitor read
 * as it started, or else waits 250 ms to have an interval),
 * memory from systeminformation's mem() (a read of /proc/meminfo on Linux), and — only when the
 * task asks, see gpu-probe.ts — GPUs from graphics(), which starts processes (lspci, nvidia-smi…)
 * and blocks on `nvidia-smi` where a GPU exists. Plain JavaScript with JSDoc types, because
 * Node cannot load a `.ts` worker. Fails soft: a metric that cannot be read is null, and why goes
 * into `unavailable`; the task itself never throws.
 */
import { threadId } from 'node:worker_threads';
// systeminformation's memory module alone, not its index (which requires all twenty of its modules,
// ~570 KB compiled and run in every worker); graphics' module is imported by the first GPU probe.
import memory from 'systeminformation/lib/memory.js';
import util from 'systeminformation/lib/util.js';
import { deniedBecause } from '../permissions.js';
import { createCpuLoad } from './cpu-load.js';

const MB = 1024 * 1024;

// A worker's stdout is the process's stdout, which belongs to the JSON-RPC writer alone: anything a
// library logs from here goes to stderr.
console.log = console.error;
console.info = console.error;
console.debug = console.error;

/**
 * @typedef {object} SampleTask
 * @property {boolean} gpu Ask for GPUs (graphics(): starts lspci, nvidia-smi… — not every sample).
 * @property {import('./cpu-load.js').CpuBaseline | null} [cpuBaseline] The CPU counters as the monitor started (first task only), so the first reading needs no 250 ms priming wait.
 */

/**
 * @typedef {object} RawGpu
 * @property {string} name
 * @property {number | null} vramTotalBytes
 * @property {number | null} vramFreeBytes
 */

/**
 * @typedef {object} RawSample
 * @property {number | null} cpuLoad Share of all cores busy since the previous sample, 0..1.
 * @property {number | null} memTotalBytes
 * @property {number | null} memFreeBytes What can be given to a new process without swapping (`available`).
 * @property {RawGpu[]} gpus
 * @property {boolean} gpuProbed Whether GPUs were asked for (when not, `gpus` is empty and says nothing).
 * @property {string[]} unavailable Metrics that could not be read, and why.
 * @property {number} sampledAt
 * @property {number} tookMs
 * @property {number} threadId
 */

// Under Deno a missing permission must be found before asking systeminformation: it calls node:os
// inside process.nextTick, where the throw kills this worker (every sample), and its shell
// commands fail silently (no GPU would look like no GPU rather than unknown).
const cpuDenied = deniedBecause('reading the load', [{ name: 'sys', kind: 'cpus' }, { name: 'sys', kind: 'loadavg' }]);
const memDenied = deniedBecause('reading it', [{ name: 'sys', kind: 'systemMemoryInfo' }]);
const gpuDenied = deniedBecause('running nvidia-smi', [{ name: 'run' }]);

const cpuLoadNow = createCpuLoad();

// What systeminformation's index does as it loads, for the PowerShell its modules use on Windows.
if (process.platform === 'win32') {
  util.getCodepage();
  util.getPowershell();
}

/** @type {Promise<typeof import('systeminformation/lib/graphics.js').default> | undefined} */
let graphicsModule;
/** systeminformation's graphics(), its module imported on first use. */
function probeGraphics() {
  graphicsModule ??= import('systeminformation/lib/graphics.js').then((module) => module.default);
  return graphicsModule.then((module) => module.graphics());
}

/** @param {string} reason */
function refuse(reason) {
  return Promise.reject(new Error(reason));
}

/** @param {unknown} error */
function why(error) {
  return error instanceof Error ? error.message : String(error);
}

/** @param {number | null | undefined} mb */
function mbToBytes(mb) {
  return typeof mb === 'number' && Number.isFinite(mb) && mb >= 0 ? mb * MB : null;
}

/** @param {number} value */
function finiteOrNull(value) {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/**
 * @param {SampleTask} task
 * @returns {Promise<RawSample>}
 */
export default async function sample(task) {
  const started = performance.now();
  /** @type {string[]} */
  const unavailable = [];
  const [load, mem, graphics] = await Promise.allSettled([
    cpuDenied ? refuse(cpuDenied) : cpuLoadNow(task.cpuBaseline),
    memDenied ? refuse(memDenied) : memory.mem(),
    !task.gpu ? Promise.resolve(null) : gpuDenied ? refuse(gpuDenied) : probeGraphics(),
  ]);

  let cpuLoad = null;
  if (load.status === 'fulfilled') {
    cpuLoad = load.value;
    if (cpuLoad === null) unavailable.push('cpu: the OS reported no CPU times');
  } else unavailable.push(`cpu: ${why(load.reason)}`);

  let memTotalBytes = null;
  let memFreeBytes = null;
  if (mem.status === 'fulfilled') {
    memTotalBytes = finiteOrNull(mem.value.total) || null;
    // `available` counts reclaimable caches; `free` alone would call a busy page cache "used".
    memFreeBytes = finiteOrNull(mem.value.available) ?? finiteOrNull(mem.value.free);
    if (memTotalBytes === null || memFreeBytes === null) unavailable.push('memory: systeminformation reported no totals');
  } else unavailable.push(`memory: ${why(mem.reason)}`);

  /** @type {RawGpu[]} */
  const gpus = [];
  if (graphics.status === 'fulfilled' && graphics.value) {
    for (const c of graphics.value.controllers) {
      const total = mbToBytes(c.memoryTotal) ?? (c.vramDynamic ? null : mbToBytes(c.vram));
      const free = mbToBytes(c.memoryFree) ?? (total !== null && typeof c.memoryUsed === 'number' ? Math.max(0, total - c.memoryUsed * MB) : null);
      gpus.push({ name: c.name || c.model || c.vendor || 'gpu', vramTotalBytes: total, vramFreeBytes: free });
    }
  } else if (graphics.status === 'rejected') unavailable.push(`gpu: ${why(graphics.reason)}`);

  return {
    cpuLoad,
    memTotalBytes,
    memFreeBytes,
    gpus,
    gpuProbed: task.gpu,
    unavailable,
    sampledAt: Date.now(),
    tookMs: performance.now() - started,
    threadId,
  };
}
