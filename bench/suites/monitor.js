/**
 * 3. Monitor cost: the event-loop delay of a Mai process with resource sampling at the default
 * interval against the same process with sampling off, and the CPU time sampling takes (the
 * difference between the two, over the same window, extrapolated to a minute). Windows run in
 * ABBA order (off, on, on, off) so a drift in the machine's load hits both alike.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startLoopbackServer } from '../lib/loopback-server.js';
import { benchDir, maiEnv, tempDir, track, writeBenchConfig } from '../lib/setup.js';
import { ms, plusMs } from '../lib/stats.js';

/**
 * @typedef {object} Probe
 * @property {boolean} sampling
 * @property {number} elapsedMs
 * @property {number} cpuMs
 * @property {number} childMs
 * @property {number} p50Ms
 * @property {number} p99Ms
 * @property {number} maxMs
 * @property {number} count
 * @property {string[]} unavailable
 * @property {number} gpuProbeCpuMs CPU of one GPU probe (0: the windows already hold every probe)
 * @property {number} gpuReprobeMs how often the sampler probes GPUs when it has none to follow
 */

/**
 * Runs a window per config, one after another, in one fresh process.
 * @param {string[]} configs
 * @param {number} windowMs
 * @param {string} stateDir
 * @param {boolean} smoke
 * @returns {Promise<Probe[]>}
 */
function probe(configs, windowMs, stateDir, smoke) {
  return new Promise((resolve, reject) => {
    const env = { ...maiEnv(stateDir), ...(smoke ? { MAI_BENCH_SMOKE: '1' } : {}) };
    const child = track(spawn(process.execPath, [join(benchDir, 'lib', 'monitor-probe.js'), String(windowMs), ...configs], { env, stdio: ['ignore', 'pipe', 'pipe'] }));
    let out = '';
    let err = '';
    child.stdout?.on('data', (chunk) => (out += chunk));
    child.stderr?.on('data', (chunk) => (err += chunk));
    child.on('close', (code) => {
      try {
        if (code !== 0) throw new Error(`exit code ${code}`);
        const probes = out.trim().split('\n').map((line) => JSON.parse(line));
        if (probes.length !== configs.length) throw new Error(`${probes.length} windows measured for ${configs.length}`);
        resolve(probes);
      } catch (error) {
        reject(new Error(`the monitor probe failed (${/** @type {Error} */ (error).message}): ${err}`));
      }
    });
  });
}

/**
 * @param {{ smoke: boolean }} options
 * @returns {Promise<import('../lib/report.js').SuiteResult>}
 */
export async function monitor({ smoke }) {
  const began = performance.now();
  const windowMs = smoke ? 500 : 6_000;
  const server = await startLoopbackServer({ models: [{ id: 'bench-model' }], replyMs: 20, chunks: 4 });
  const dir = await tempDir();
  try {
    const backends = [{ name: 'loop', baseURL: server.baseURL }];
    const on = await writeBenchConfig(dir.path, { backends, monitor: true, name: 'on.yaml' });
    const off = await writeBenchConfig(dir.path, { backends, monitor: false, name: 'off.yaml' });
    /** @type {Probe[]} */
    const offRuns = [];
    /** @type {Probe[]} */
    const onRuns = [];
    const order = smoke ? [false, true] : [false, true, true, false];
    // Measured: each window in a fresh process. Smoke: both windows in one (the same code; one process start less).
    const windows = smoke ? [order] : order.map((sampling) => [sampling]);
    for (const group of windows) {
      const probes = await probe(group.map((sampling) => (sampling ? on : off)), windowMs, dir.path, smoke);
      probes.forEach((p, i) => (group[i] ? onRuns : offRuns).push(p));
    }
    for (const run of onRuns) if (run.unavailable.length) throw new Error(`sampling did not work: ${run.unavailable.join('; ')}`);
    /** @param {Probe[]} runs @param {'p50Ms' | 'p99Ms' | 'maxMs'} key */
    const worst = (runs, key) => Math.max(...runs.map((r) => r[key]));
    /** @param {Probe[]} runs */
    const cpuPerMinute = (runs) => (runs.reduce((s, r) => s + r.cpuMs + r.childMs, 0) / runs.reduce((s, r) => s + r.elapsedMs, 0)) * 60_000;
    /** @param {Probe[]} runs */
    const childPerMinute = (runs) => (runs.reduce((s, r) => s + r.childMs, 0) / runs.reduce((s, r) => s + r.elapsedMs, 0)) * 60_000;
    // The windows hold no GPU re-probe (once every gpuReprobeMs where no GPU reports free memory): added by count.
    const reprobe = Math.max(...onRuns.map((r) => r.gpuProbeCpuMs));
    const reprobeMs = /** @type {Probe} */ (onRuns[0]).gpuReprobeMs;
    const probesPerMinute = 60_000 / reprobeMs;
    const samplerPerMinute = cpuPerMinute(onRuns) - cpuPerMinute(offRuns) + reprobe * probesPerMinute;
    const p99On = worst(onRuns, 'p99Ms');
    return {
      id: 'monitor',
      title: '3. Monitor cost (event-loop delay and CPU)',
      header: ['sampling', 'loop delay p50', 'loop delay p99', 'loop delay max', 'process CPU per minute', 'of which child processes'],
      rows: [
        ['off', ms(worst(offRuns, 'p50Ms')), ms(worst(offRuns, 'p99Ms')), ms(worst(offRuns, 'maxMs')), ms(cpuPerMinute(offRuns)), ms(childPerMinute(offRuns))],
        ['every 2 s (default)', ms(worst(onRuns, 'p50Ms')), ms(p99On), ms(worst(onRuns, 'maxMs')), ms(cpuPerMinute(onRuns)), ms(childPerMinute(onRuns))],
        ['GPU re-probe, not in the windows', '', '', '', reprobe > 0 ? `+${ms(reprobe * probesPerMinute)} (${ms(reprobe)} × ${probesPerMinute.toFixed(1)} a minute)` : '—', ''],
        ['the sampler: on − off (+ re-probes)', plusMs(worst(onRuns, 'p50Ms') - worst(offRuns, 'p50Ms')), plusMs(p99On - worst(offRuns, 'p99Ms')), '', `${ms(samplerPerMinute)} (${((samplerPerMinute / 60_000) * 100).toFixed(2)}% of a core)`, ''],
      ],
      checks: [{ name: 'Event-loop delay p99 with sampling on', target: '≤ 2 ms', measured: ms(p99On), pass: p99On <= 2 }],
      notes: [
        `${order.length} windows of ${windowMs / 1000} s in the order ${order.map((s) => (s ? 'on' : 'off')).join(', ')}, each in a fresh process${smoke ? ' (smoke: both in one)' : ''} (bench/lib/monitor-probe.js) that builds Mai from dist/ and reads status() every 100 ms; sampling windows start after the first sample is in. The worst window of each kind is shown.`,
        'Loop delay: perf_hooks.monitorEventLoopDelay at a 10 ms resolution, shown as the delay beyond the 10 ms timer interval.',
        `CPU per minute is extrapolated from the ${order.length * windowMs / 1000} s measured: process.cpuUsage() (every thread, so the sampling worker counts) plus the child processes the process waited for (/proc/self/stat cutime+cstime, 10 ms ticks). The sampler's cost is the on minus the off figure, plus its GPU re-probes: where no GPU reports free memory it asks systeminformation's graphics() again only every ${reprobeMs / 1000} s, which a window of a few seconds does not hold, so one such call is timed on its own (CPU of the process and the processes it starts) and counted that many times a minute.`,
      ],
      seconds: (performance.now() - began) / 1000,
    };
  } finally {
    await server.close();
    await dir.cleanup();
  }
}
