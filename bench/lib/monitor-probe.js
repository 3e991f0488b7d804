/**
 * Measures one Mai process from the inside, for the monitor benchmark: builds Mai from the built
 * dist/ with the config given (sampling on or off), waits until it is settled (with sampling on,
 * until the first sample is in), then for `windowMs` records the event-loop delay
 * (perf_hooks.monitorEventLoopDelay at a 10 ms resolution) and the CPU time the process used —
 * all its threads (process.cpuUsage, so the sampling worker thread counts) and, on Linux, the child
 * processes it waited for (/proc/self/stat cutime+cstime: what systeminformation spawns). Reads
 * status() every 100 ms meanwhile, as a client would. With sampling on it then closes Mai and
 * times one systeminformation graphics() call — the GPU probe the sampler repeats only every
 * GPU_REPROBE_MS (core/monitor/gpu-probe.ts) on a machine without a GPU to follow, so a window of a
 * few seconds does not contain one (the second call is timed: the sampler's worker asked before). Prints one JSON
 * line per config, each a window of its own, one after another (a measured run gives each window a fresh process; a
 * smoke run, MAI_BENCH_SMOKE=1, runs both of its windows in one, and times its only graphics() call).
 * `node monitor-probe.js WINDOW_MS CONFIG [CONFIG...]`
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadConfig } from '../../dist/core/config/load.js';
import { createLogger } from '../../dist/core/log.js';
import { Mai } from '../../dist/core/mai.js';
import { GPU_REPROBE_MS } from '../../dist/core/monitor/gpu-probe.js';
import { builtinPlugins } from '../../dist/plugins/index.js';

const RESOLUTION_MS = 10;

/** CPU ms of waited-for child processes (Linux; 0 elsewhere). */
function childrenCpuMs() {
  try {
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ') ?? [];
    // After "pid (comm) ": state is field 0; cutime and cstime are fields 13 and 14, in clock ticks (100 Hz).
    return (Number(fields[13]) + Number(fields[14])) * 10;
  } catch {
    return 0;
  }
}

const selfCpuMs = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};

/**
 * One window with Mai built from `config`: its measures, as the JSON object printed for it.
 * @param {string} config
 * @param {number} windowMs
 * @param {boolean} warmGpuProbe whether to call graphics() once untimed first (the sampler's worker asked
 *   before, so the timed call is a repeat, as the sampler's are); a smoke run skips it (its numbers mean nothing)
 */
async function measure(config, windowMs, warmGpuProbe) {
  const mai = await Mai.create({ plugins: builtinPlugins, loaded: loadConfig({ flag: config }), log: createLogger('probe', 'silent') });
  const sampling = mai.config.config.monitor.enabled;
  const settleUntil = Date.now() + 10_000;
  // Settled: the catalogue listed, and (sampling on) the first sample in.
  await mai.models({ refresh: false });
  while (sampling && mai.status().resources.unavailable && Date.now() < settleUntil) await new Promise((resolve) => setTimeout(resolve, 50));
  await new Promise((resolve) => setTimeout(resolve, 500));

  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  const reads = setInterval(() => mai.status(), 100);
  const cpu0 = selfCpuMs();
  const children0 = childrenCpuMs();
  const started = performance.now();
  histogram.enable();
  await new Promise((resolve) => setTimeout(resolve, windowMs));
  histogram.disable();
  const elapsedMs = performance.now() - started;
  const cpuMs = selfCpuMs() - cpu0;
  const childMs = childrenCpuMs() - children0;
  clearInterval(reads);
  const gpus = mai.status().resources.gpus;
  const unavailable = mai.status().resources.unavailable ?? [];
  await mai.close();
  // Where no GPU reports free memory, the sampler asks graphics() again only every GPU_REPROBE_MS.
  const followsGpus = gpus.some((gpu) => gpu.vramFreeBytes !== null);
  let gpuProbeCpuMs = 0;
  if (sampling && mai.config.config.monitor.gpu && !followsGpus) {
    const { default: si } = await import('systeminformation');
    if (warmGpuProbe) await si.graphics();
    const before = selfCpuMs() + childrenCpuMs();
    await si.graphics();
    gpuProbeCpuMs = selfCpuMs() + childrenCpuMs() - before;
  }
  const delay = (/** @type {number} */ ns) => Math.max(0, ns / 1e6 - RESOLUTION_MS);
  return {
    sampling,
    elapsedMs,
    cpuMs,
    childMs,
    p50Ms: delay(histogram.percentile(50)),
    p99Ms: delay(histogram.percentile(99)),
    maxMs: delay(histogram.max),
    count: histogram.count,
    unavailable,
    gpuProbeCpuMs,
    gpuReprobeMs: GPU_REPROBE_MS,
  };
}

const [windowArg, ...configs] = process.argv.slice(2);
const windowMs = Number(windowArg ?? 10_000);
const smoke = process.env.MAI_BENCH_SMOKE === '1';
for (const config of configs) process.stdout.write(`${JSON.stringify(await measure(config, windowMs, !smoke))}\n`);
process.exit(0);
