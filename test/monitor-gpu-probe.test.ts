import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Tinypool from 'tinypool';
import { afterEach, describe, expect, it } from 'vitest';
import { busyShare, cpuBaseline, createCpuLoad, cpuTimes, MIN_INTERVAL_MS, PRIME_MS } from '../core/monitor/cpu-load.js';
import { GPU_REPROBE_MS, GpuProbe } from '../core/monitor/gpu-probe.ts';
import { SamplingMonitor } from '../core/monitor/sampling-monitor.ts';
import type { RawGpu, RawSample } from '../core/monitor/smoothing.ts';

function raw(overrides: Partial<RawSample>): RawSample {
  return { cpuLoad: 0.5, memTotalBytes: 100, memFreeBytes: 50, gpus: [], unavailable: [], sampledAt: 0, tookMs: 1, threadId: 1, ...overrides };
}

const integrated: RawGpu = { name: 'Intel UHD', vramTotalBytes: 128 * 1024 ** 2, vramFreeBytes: null };
const nvidia: RawGpu = { name: 'RTX 4090', vramTotalBytes: 24 * 1024 ** 3, vramFreeBytes: 20 * 1024 ** 3 };

describe('when a sample asks for GPUs (GpuProbe)', () => {
  it('asks at the first sample; with no GPU found, again only after the reprobe interval, carrying the last answer between', () => {
    const probe = new GpuProbe(true, 10_000);
    expect(probe.due(0)).toBe(true);
    probe.complete(raw({ gpus: [], unavailable: ['gpu: lspci not found'] }), true, 0);
    expect(probe.due(1)).toBe(false);
    expect(probe.due(9_999)).toBe(false);
    const between = probe.complete(raw({ gpus: [], unavailable: ['memory: x'] }), false, 5_000);
    expect(between.unavailable).toEqual(['memory: x', 'gpu: lspci not found']);
    expect(probe.due(10_000)).toBe(true);
    expect(probe.probes()).toBe(1);
    expect(GPU_REPROBE_MS).toBeGreaterThanOrEqual(30_000);
  });

  it('a GPU with only fixed figures is carried too; one with a free-memory figure is asked for every sample', () => {
    const fixed = new GpuProbe(true, 10_000);
    fixed.complete(raw({ gpus: [integrated] }), true, 0);
    expect(fixed.due(2_000)).toBe(false);
    expect(fixed.complete(raw({ gpus: [] }), false, 2_000).gpus).toEqual([integrated]);

    const following = new GpuProbe(true, 10_000);
    following.complete(raw({ gpus: [integrated, nvidia] }), true, 0);
    expect(following.due(1)).toBe(true);
    const next = following.complete(raw({ gpus: [integrated, { ...nvidia, vramFreeBytes: 1 }] }), true, 2_000);
    expect(next.gpus[1]?.vramFreeBytes).toBe(1);
    expect(following.probes()).toBe(2);
  });

  it('a probe that never completed (the sample failed) stays due; with GPUs off it is never due and adds nothing', () => {
    const probe = new GpuProbe(true, 10_000);
    expect(probe.due(0)).toBe(true);
    expect(probe.due(50_000)).toBe(true);
    const off = new GpuProbe(false, 10_000);
    expect(off.due(0)).toBe(false);
    expect(off.complete(raw({ gpus: [] }), false, 0).gpus).toEqual([]);
    expect(off.probes()).toBe(0);
  });
});

describe("a probe's answer shared with the next Mai of the state directory (GpuProbe memoFile)", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const memoFile = () => {
    const dir = mkdtempSync(join(tmpdir(), 'mai-gpu-memo-'));
    dirs.push(dir);
    return join(dir, 'gpus.json');
  };

  it('a Mai started within the reprobe interval carries the last answer (GPUs and why not) instead of probing at its first sample', async () => {
    const file = memoFile();
    const first = new GpuProbe(true, 10_000, file);
    expect(first.due()).toBe(true);
    first.complete(raw({ gpus: [integrated], unavailable: ['gpu: nvidia-smi not found'] }), true);
    await expect.poll(() => existsSync(file)).toBe(true);
    const next = new GpuProbe(true, 10_000, file);
    expect(next.due()).toBe(false);
    const carried = next.complete(raw({ gpus: [], unavailable: ['memory: x'] }), false);
    expect(carried.gpus).toEqual([integrated]);
    expect(carried.unavailable).toEqual(['memory: x', 'gpu: nvidia-smi not found']);
    expect(next.probes()).toBe(0);
    expect(next.due(Date.now() + 10_000)).toBe(true);
    // With GPUs off, the memo says nothing.
    expect(new GpuProbe(false, 10_000, file).complete(raw({ gpus: [] }), false).gpus).toEqual([]);
  });

  it('is ignored when old, from the future, unreadable or naming a free-memory figure; an answer with one is never written', async () => {
    const file = memoFile();
    const write = (memo: unknown) => writeFileSync(file, typeof memo === 'string' ? memo : JSON.stringify(memo));
    write({ probedAt: Date.now() - 20_000, gpus: [], reasons: [] });
    expect(new GpuProbe(true, 10_000, file).due()).toBe(true);
    write({ probedAt: Date.now() + 60_000, gpus: [], reasons: [] });
    expect(new GpuProbe(true, 10_000, file).due()).toBe(true);
    write('{"probedAt": 1, "gpus": [');
    expect(new GpuProbe(true, 10_000, file).due()).toBe(true);
    write({ probedAt: Date.now(), gpus: [nvidia], reasons: [] });
    expect(new GpuProbe(true, 10_000, file).due()).toBe(true);
    write({ probedAt: Date.now(), gpus: [{ name: 7 }], reasons: ['gpu: x'] });
    expect(new GpuProbe(true, 10_000, file).due()).toBe(true);

    const fresh = memoFile();
    const following = new GpuProbe(true, 10_000, fresh);
    following.complete(raw({ gpus: [nvidia] }), true);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(existsSync(fresh)).toBe(false);
    // Nothing shared, GPUs absent: the next one carries "none" with its reasons.
    following.complete(raw({ gpus: [], unavailable: ['gpu: lspci not found'] }), true);
    await expect.poll(() => existsSync(fresh)).toBe(true);
    expect(JSON.parse(readFileSync(fresh, 'utf8'))).toMatchObject({ gpus: [], reasons: ['gpu: lspci not found'] });
  });
});

describe('CPU load from the OS counters (cpu-load.js)', () => {
  it('is the busy share of the time all cores spent between two readings; null when the counters did not move', () => {
    expect(busyShare({ busy: 100, total: 1_000 }, { busy: 150, total: 1_200 })).toBeCloseTo(0.25);
    expect(busyShare({ busy: 100, total: 1_000 }, { busy: 100, total: 1_000 })).toBeNull();
    expect(busyShare({ busy: 0, total: 0 }, { busy: 500, total: 400 })).toBe(1);
    const times = cpuTimes();
    expect(times.total).toBeGreaterThan(0);
    expect(times.busy).toBeGreaterThanOrEqual(0);
    expect(times.busy).toBeLessThanOrEqual(times.total);
  });

  it('reads a share in 0..1 from this machine, the first reading over a primed interval', async () => {
    const read = createCpuLoad(50);
    for (let i = 0; i < 3; i++) {
      const share = await read();
      expect(share).not.toBeNull();
      expect(share!).toBeGreaterThanOrEqual(0);
      expect(share!).toBeLessThanOrEqual(1);
      await new Promise((r) => setTimeout(r, 30));
    }
  });
});

describe('the first CPU reading from the counters read as the monitor started', () => {
  it('waits only for what is left of MIN_INTERVAL_MS since the baseline, not the priming wait', async () => {
    const waits: number[] = [];
    const wait = async (ms: number) => {
      waits.push(ms);
    };
    const base = cpuBaseline();
    expect(base).not.toBeNull();
    await createCpuLoad(PRIME_MS, wait)({ ...base!, at: Date.now() }); // fresh: waits the rest
    expect(waits).toHaveLength(1);
    expect(waits[0]!).toBeGreaterThan(0);
    expect(waits[0]!).toBeLessThanOrEqual(MIN_INTERVAL_MS);
    await createCpuLoad(PRIME_MS, wait)({ ...base!, at: Date.now() - 10 * MIN_INTERVAL_MS }); // old enough: no wait
    expect(waits).toHaveLength(1);
    await createCpuLoad(PRIME_MS, wait)(); // no baseline: primes
    expect(waits).toEqual([waits[0], PRIME_MS]);
  });

  it("leaves out this process's own CPU time since the baseline (Mai's start-up is not the machine's load)", async () => {
    const base = cpuBaseline()!;
    const until = performance.now() + 200;
    let spin = 0;
    while (performance.now() < until) spin += Math.sqrt(spin + 1); // ~200 ms of this process's CPU
    expect(spin).toBeGreaterThan(0);
    const share = await createCpuLoad(PRIME_MS, async () => {})({ ...base, at: Date.now() - 10 * MIN_INTERVAL_MS });
    const withOwn = busyShare(base, cpuTimes())!;
    expect(share).not.toBeNull();
    // The spin's CPU time is in withOwn and taken out of share. How large a share it is depends on
    // how much of a core the spin got (a timing, which belongs in the bench), so only the direction is checked.
    expect(share!).toBeLessThan(withOwn);
    expect(share!).toBeGreaterThanOrEqual(0);
  });
});

describe('sampling starts no process except when it asks for GPUs', () => {
  let pool: Tinypool | undefined;
  let monitor: SamplingMonitor | undefined;
  afterEach(async () => {
    await pool?.destroy();
    await monitor?.close();
    pool = undefined;
    monitor = undefined;
  });

  it('the real sample worker: CPU and memory start nothing; graphics() is what starts processes', async () => {
    pool = new Tinypool({ filename: new URL('./monitor-spawns.worker.js', import.meta.url).href, minThreads: 1, maxThreads: 1, useAtomics: false });
    type Counted = RawSample & { started: string[] };
    for (let i = 0; i < 3; i++) {
      const sample = (await pool.run({ gpu: false })) as Counted;
      expect(sample.started).toEqual([]);
      expect(sample.gpuProbed).toBe(false);
      expect(sample.cpuLoad).not.toBeNull();
      expect(sample.memFreeBytes).toBeGreaterThan(0);
    }
    const withGpu = (await pool.run({ gpu: true })) as Counted;
    expect(withGpu.gpuProbed).toBe(true);
    // Linux: lspci, clinfo, xrandr… (the check that the counting above can see a process at all).
    if (process.platform === 'linux') expect(withGpu.started.length).toBeGreaterThan(0);
  });

  it('the monitor asks for GPUs at its first sample, not every sample, unless a GPU with free memory was found; sample() asks again', async () => {
    monitor = new SamplingMonitor({ config: { intervalMs: 100, smoothing: 0.3, trendWindow: 5, sampleTimeoutMs: 1_500, gpu: true }, gpuReprobeMs: 60_000 });
    monitor.start();
    const deadline = Date.now() + 15_000;
    while (monitor.stats().samples < 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const stats = monitor.stats();
    expect(stats.samples).toBeGreaterThanOrEqual(6);
    const snapshot = monitor.latest();
    const following = snapshot.gpus.some((gpu) => gpu.vramFreeBytes !== null);
    if (following) expect(stats.gpuProbes).toBe(stats.samples);
    else expect(stats.gpuProbes).toBe(1);
    const before = stats.gpuProbes;
    const fresh = await monitor.sample(5_000);
    expect(monitor.stats().gpuProbes).toBeGreaterThan(before);
    expect(fresh.gpus.length).toBe(snapshot.gpus.length);
  });

  it('with monitor.gpu off, no sample asks for GPUs', async () => {
    monitor = new SamplingMonitor({ config: { intervalMs: 100, smoothing: 0.3, trendWindow: 5, sampleTimeoutMs: 1_500, gpu: false } });
    monitor.start();
    const deadline = Date.now() + 15_000;
    while (monitor.stats().samples < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await monitor.sample(5_000);
    expect(monitor.stats().samples).toBeGreaterThanOrEqual(4);
    expect(monitor.stats().gpuProbes).toBe(0);
    expect(monitor.latest().gpus).toEqual([]);
  });
});
