import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { threadId } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../core/config/load.ts';
import { createLogger } from '../core/log.ts';
import { Mai } from '../core/mai.ts';
import { SamplingMonitor } from '../core/monitor/sampling-monitor.ts';
import { builtinPlugins } from '../plugins/index.ts';
import { ewma, slopePerSecond, Smoother, type RawSample } from '../core/monitor/smoothing.ts';
import { tempDir, writeConfig, type TempDir } from './support/harness.ts';
import { startOllamaServer, type FakeOllamaServer } from './support/ollama-server.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const config = { intervalMs: 200, smoothing: 0.3, trendWindow: 5, sampleTimeoutMs: 1_500, gpu: true };

/** Waits (checking every 20 ms) until `check` holds: for the monitor's own counters, not for a fixed time. */
async function until(check: () => boolean, what: string, ms = 15_000): Promise<void> {
  for (const start = Date.now(); !check(); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
  }
}

function raw(overrides: Partial<RawSample>): RawSample {
  return { cpuLoad: 0.5, memTotalBytes: 100, memFreeBytes: 50, gpus: [], unavailable: [], sampledAt: 0, tookMs: 1, threadId: 1, ...overrides };
}

describe('smoothing', () => {
  it('EWMA weighs the newest sample by the smoothing factor; a metric that cannot be read resets to null', () => {
    expect(ewma(null, 10, 0.3)).toBe(10);
    expect(ewma(10, 20, 0.3)).toBeCloseTo(13);
    expect(ewma(13, null, 0.3)).toBeNull();
    const s = new Smoother(0.5, 3);
    s.add(raw({ cpuLoad: 0, memFreeBytes: 100, sampledAt: 0 }));
    const second = s.add(raw({ cpuLoad: 1, memFreeBytes: 0, sampledAt: 1_000 }));
    expect(second.cpuLoad).toBeCloseTo(0.5);
    expect(second.memFreeBytes).toBeCloseTo(50);
    const third = s.add(raw({ cpuLoad: null, memFreeBytes: 0, sampledAt: 2_000 }));
    expect(third.cpuLoad).toBeNull();
    expect(third.memFreeBytes).toBeCloseTo(25);
  });

  it('the trend is the slope per second over the last `trendWindow` samples', () => {
    expect(slopePerSecond([{ at: 0, value: 1 }])).toBeNull();
    expect(slopePerSecond([0, 1, 2, 3].map((i) => ({ at: i * 500, value: 10 - i }))) ?? NaN).toBeCloseTo(-2);
    const s = new Smoother(1, 3);
    let last;
    for (let i = 0; i < 10; i++) last = s.add(raw({ memFreeBytes: 1_000 - 100 * i, sampledAt: i * 1_000 }));
    expect(last?.trend.samples).toBe(3);
    expect(last?.trend.memFreeBytesPerSecond ?? NaN).toBeCloseTo(-100);
  });
});

describe('the sampling monitor (systeminformation in a tinypool worker thread)', () => {
  let monitor: SamplingMonitor | undefined;
  afterEach(async () => {
    await monitor?.close();
    monitor = undefined;
  });

  it('samples CPU, memory and GPUs in a worker thread, never on the main thread', async () => {
    monitor = new SamplingMonitor({ config, loaded: () => [{ model: 'm', backend: 'b', memoryBytes: 123, vramBytes: null }] });
    monitor.start();
    // The first sample starts a worker thread and loads systeminformation in it: on a loaded machine that
    // can take longer than current()'s wait (sampleTimeoutMs), after which it answers the OS's counters.
    await until(() => monitor!.stats().samples >= 1, 'the first sample');
    const snapshot = await monitor.current();
    const stats = monitor.stats();
    expect(stats.workerThreadId).not.toBeNull();
    expect(stats.workerThreadId).not.toBe(threadId);
    expect(stats.workers).toBe(1);
    expect(snapshot.memTotalBytes).toBeGreaterThan(0);
    expect(snapshot.memFreeBytes).toBeGreaterThan(0);
    expect(snapshot.memFreeBytes!).toBeLessThanOrEqual(snapshot.memTotalBytes!);
    expect(snapshot.cpuLoad).toBeGreaterThanOrEqual(0);
    expect(snapshot.cpuLoad).toBeLessThanOrEqual(1);
    expect(Array.isArray(snapshot.gpus)).toBe(true);
    expect(Date.now() - snapshot.sampledAt).toBeLessThan(10_000);
    expect(snapshot.loaded).toEqual([{ model: 'm', backend: 'b', memoryBytes: 123, vramBytes: null }]);
    // Samples keep coming on the interval, and the trend fills in.
    await until(() => monitor!.stats().samples > stats.samples && (monitor!.latest().trend?.samples ?? 0) > 1, 'more samples and a trend');
    expect(monitor.stats().samples).toBeGreaterThan(stats.samples);
    expect(monitor.latest().trend?.samples).toBeGreaterThan(1);
  });

  it('a stale snapshot makes current() take a fresh sample', async () => {
    const workerUrl = new URL('./monitor-stale.worker.js', import.meta.url);
    monitor = new SamplingMonitor({ config: { ...config, intervalMs: 60_000 }, workerUrl });
    monitor.start();
    await monitor.current();
    const before = monitor.stats().samples;
    await monitor.current();
    await monitor.current();
    expect(monitor.stats().samples).toBe(before + 2);
    // The fixture reports 1 MiB more free memory per call; the smoothed value follows.
    expect(monitor.latest().memFreeBytes).toBeGreaterThan(1024 ** 2);
  });

  it('waits at most sampleTimeoutMs for a fresh sample, then answers with what it has', async () => {
    const workerUrl = new URL('./monitor-slow.worker.js', import.meta.url);
    monitor = new SamplingMonitor({ config: { ...config, intervalMs: 60_000, sampleTimeoutMs: 300 }, workerUrl });
    monitor.start();
    // The fixture's first sample is quick; under load the worker may take longer than 300 ms to start,
    // and a current() before it is in answers with the live figures, so wait for it by its counter.
    await until(() => monitor!.stats().samples >= 1, 'the first sample');
    const samples = monitor.stats().samples;
    const snapshot = await monitor.current();
    // current() answered without the fresh sample, which takes 5 s: not a timing, the sample is not in.
    expect(monitor.stats().samples).toBe(samples);
    expect(snapshot.memFreeBytes).toBe(4 * 1024 ** 3);
    expect(snapshot.unavailable).toEqual(['gpu: fixture has none']);
  });

  it('answers OS counters, marked as such, before the first sample is in; fails soft when the worker cannot load', async () => {
    monitor = new SamplingMonitor({ config, workerUrl: new URL('./no-such.worker.js', import.meta.url) });
    monitor.start();
    const snapshot = await monitor.current();
    expect(snapshot.memTotalBytes).toBeGreaterThan(0);
    expect(snapshot.unavailable?.[0]).toMatch(/first sample is not in yet/);
    await until(() => monitor!.stats().failures >= 1, 'the worker to fail');
    expect(monitor.stats().failures).toBeGreaterThanOrEqual(1);
    expect(monitor.stats().samples).toBe(0);
    const after = await monitor.current();
    expect(after.memTotalBytes).toBeGreaterThan(0);
    expect(after.unavailable?.[0]).toMatch(/worker could not start .*no-such\.worker\.js/);
  });

  it('close() destroys the pool', async () => {
    monitor = new SamplingMonitor({ config });
    monitor.start();
    await monitor.current();
    await monitor.close();
    expect(monitor.stats()).toMatchObject({ running: false, workers: 0 });
  });
});

/** A script that samples for a while, closes the monitor, and then just ends (no process.exit). */
const childScript = (importPath: string) => `
import { SamplingMonitor } from ${JSON.stringify(importPath)};
const monitor = new SamplingMonitor({ config: ${JSON.stringify({ ...config, intervalMs: 100 })} });
monitor.start();
const snapshot = await monitor.current();
for (const start = Date.now(); monitor.stats().samples < 2 && Date.now() - start < 15000; ) await new Promise((r) => setTimeout(r, 20));
const before = monitor.stats();
await monitor.close();
process.stderr.write(JSON.stringify({ before, after: monitor.stats(), memTotalBytes: snapshot.memTotalBytes, closedAt: Date.now() }) + '\\n');
`;

function runToExit(command: string, args: string[], cwd: string, limitMs: number): Promise<{ code: number | null; stderr: string; exitedAt: number; killed: boolean }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let stderr = '';
    let killed = false;
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, limitMs);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stderr, exitedAt: Date.now(), killed });
    });
  });
}

function report(stderr: string): { before: { samples: number; workers: number }; after: { workers: number; running: boolean }; memTotalBytes: number; closedAt: number } {
  const line = stderr.split('\n').find((l) => l.startsWith('{"before"'));
  if (!line) throw new Error(`the child printed no report:\n${stderr}`);
  return JSON.parse(line);
}

describe('a process using the monitor exits by itself after close()', () => {
  let dir: TempDir;
  afterEach(async () => dir?.cleanup());

  it('under Node (the monitor compiled to JavaScript: dist/, as the suites build it)', async () => {
    dir = await tempDir('mai-monitor-node-');
    await writeFile(join(dir.path, 'child.mjs'), childScript(pathToFileURL(join(root, 'dist', 'core', 'monitor', 'sampling-monitor.js')).href));
    // From the repository (its package.json and node_modules), as Mai runs; under the Deno suite it is Deno that runs the JavaScript.
    const runtime = 'Deno' in globalThis ? ['run', '-A', '--quiet', '--node-modules-dir=manual'] : [];
    const run = await runToExit(process.execPath, [...runtime, join(dir.path, 'child.mjs')], root, 20_000);
    expect(run.killed, run.stderr).toBe(false);
    expect(run.code, run.stderr).toBe(0);
    const r = report(run.stderr);
    expect(r.before.samples).toBeGreaterThanOrEqual(2);
    expect(r.before.workers).toBe(1);
    expect(r.after).toMatchObject({ workers: 0, running: false });
    expect(r.memTotalBytes).toBeGreaterThan(0);
    expect(run.exitedAt - r.closedAt).toBeLessThan(5_000);
  });

  // The child is Deno whichever runtime runs the tests: it runs once, in the Deno suite (under Node's it would start the same process again).
  it.runIf('Deno' in globalThis)('under Deno (from the TypeScript sources; the pool runs without atomics)', async () => {
    dir = await tempDir('mai-monitor-deno-');
    await writeFile(join(dir.path, 'child.ts'), childScript(pathToFileURL(join(root, 'core', 'monitor', 'sampling-monitor.ts')).href));
    const deno = join(root, 'node_modules', '.bin', 'deno');
    const run = await runToExit(deno, ['run', '-A', '--quiet', '--node-modules-dir=manual', join(dir.path, 'child.ts')], root, 40_000);
    expect(run.killed, run.stderr).toBe(false);
    expect(run.code, run.stderr).toBe(0);
    const r = report(run.stderr);
    expect(r.before.samples).toBeGreaterThanOrEqual(2);
    expect(r.after).toMatchObject({ workers: 0, running: false });
    expect(run.exitedAt - r.closedAt).toBeLessThan(5_000);
  }, 60_000);
});

describe('Mai with the default monitor', () => {
  let dir: TempDir;
  let server: FakeOllamaServer;
  afterEach(async () => {
    await server?.close();
    await dir?.cleanup();
  });

  it('samples in a worker when monitor.enabled, shows what each backend has loaded and the memory it holds, and closes the pool', async () => {
    server = await startOllamaServer([
      { name: 'resident', sizeBytes: 3 * 1024 ** 3, sizeVram: 1024 ** 3, loaded: true },
      { name: 'on-disk', sizeBytes: 5 * 1024 ** 3 },
    ]);
    dir = await tempDir();
    const file = await writeConfig(dir.path, `
backends: [{ use: ollama, name: local, options: { baseURL: ${server.url} } }]
scorers: [{ use: resource-fit }]
monitor: { intervalMs: 250, gpu: false }
`);
    const mai = await Mai.create({ plugins: builtinPlugins, loaded: loadConfig({ flag: file }), log: createLogger('test', 'silent') });
    await mai.models();
    await until(() => (mai.status().resources.trend?.samples ?? 0) > 1 && (mai.status().resources.loaded ?? []).length > 0, 'two samples and what is loaded');
    const { resources } = mai.status();
    await mai.close();
    expect(resources.unavailable ?? []).toEqual([]); // sampled, not the OS fallback
    expect(resources.memTotalBytes).toBeGreaterThan(0);
    expect(resources.trend?.samples).toBeGreaterThan(1);
    expect(resources.loaded).toEqual([{ model: 'resident', backend: 'local', memoryBytes: 3 * 1024 ** 3, vramBytes: 1024 ** 3 }]);
  });
});
