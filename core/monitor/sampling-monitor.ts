/**
 * The sampling monitor: every `intervalMs` a tinypool worker thread asks systeminformation for CPU
 * load, memory and — at the first sample, then as gpu-probe.ts decides — GPU memory
 * (sample.worker.js); the main thread only keeps the smoothed result and reads it. A snapshot older than two intervals triggers a fresh sample, waited for at most
 * `sampleTimeoutMs`. One worker (min = max = 1) so currentLoad()'s counters stay primed; atomics
 * off (tinypool hangs under Deno with them); the pool is destroyed on close, and nothing it owns
 * keeps the process alive (the timer is unref'd, idle workers are unref'd by tinypool).
 */
import Tinypool from 'tinypool';
import type { MonitorConfig } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import type { ResourceSnapshot } from '../types.ts';
import { cpuBaseline, type CpuBaseline } from './cpu-load.js';
import { GpuProbe } from './gpu-probe.ts';
import { osSnapshot, type LoadedModelsSource, type ResourceMonitor } from './resource-monitor.ts';
import { Smoother, type RawSample } from './smoothing.ts';
import { extend } from '../extend.ts';

export interface SamplingMonitorOptions {
  config: Pick<MonitorConfig, 'intervalMs' | 'smoothing' | 'trendWindow' | 'sampleTimeoutMs' | 'gpu'>;
  log?: Logger;
  loaded?: LoadedModelsSource;
  /** The worker module (tests point it elsewhere); defaults to ./sample.worker.js next to this file. */
  workerUrl?: URL;
  /** How often GPUs are asked for again when none with a free-memory figure was found (default GPU_REPROBE_MS). */
  gpuReprobeMs?: number;
  /** Where such an answer is shared with the other Mai of this state directory (gpu-probe.ts); none: not shared. */
  gpuMemoFile?: string;
}

export interface SamplingStats {
  samples: number;
  failures: number;
  lastTookMs: number | null;
  /** The worker thread's id (never 0, the main thread's). */
  workerThreadId: number | null;
  running: boolean;
  /** Worker threads the pool holds now (0 once closed). */
  workers: number;
  /** Samples that asked for GPUs (systeminformation's graphics(), which starts processes). */
  gpuProbes: number;
}

/** Resolves to the promise's value, or to null once `ms` have passed (the work itself goes on). */
function within<T>(promise: Promise<T>, ms: number): Promise<T | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), Math.max(0, ms));
    }),
  ]).finally(() => clearTimeout(timer));
}

export class SamplingMonitor implements ResourceMonitor {
  private readonly config: SamplingMonitorOptions['config'];
  private readonly log: Logger | undefined;
  private readonly loaded: LoadedModelsSource | undefined;
  private readonly workerUrl: URL;
  private readonly smoother: Smoother;
  private readonly gpuProbe: GpuProbe;
  private pool: Tinypool | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private snapshot: ResourceSnapshot | null = null;
  private inFlight: { promise: Promise<RawSample | null>; controller: AbortController; startedAt: number } | null = null;
  private closed = false;
  /** The CPU counters read as sampling started, sent with the first task only (a replacement worker primes its own). */
  private firstCpuBaseline: CpuBaseline | null = null;
  /** Why sampling gave up, when its worker could not start. */
  private broken: string | null = null;
  private readonly counts: Omit<SamplingStats, 'workers' | 'gpuProbes'> = { samples: 0, failures: 0, lastTookMs: null, workerThreadId: null, running: false };

  constructor(options: SamplingMonitorOptions) {
    this.config = options.config;
    this.log = options.log;
    this.loaded = options.loaded;
    this.workerUrl = options.workerUrl ?? new URL('./sample.worker.js', import.meta.url);
    this.smoother = new Smoother(options.config.smoothing, options.config.trendWindow);
    this.gpuProbe = new GpuProbe(options.config.gpu, options.gpuReprobeMs, options.gpuMemoFile);
  }

  start(): void {
    if (this.pool || this.closed) return;
    this.pool = new Tinypool({
      filename: this.workerUrl.href,
      minThreads: 1,
      maxThreads: 1,
      // min = max = 1: the one worker stays while the monitor lives (its CPU counters stay primed).
      useAtomics: false,
    });
    // A worker that fails to start (or crashes between tasks) is reported here, never thrown.
    this.pool.on('error', (error: unknown) => this.onWorkerError(error));
    this.counts.running = true;
    // Read now, so the first sample measures the CPU over the worker's start instead of waiting to prime.
    this.firstCpuBaseline = cpuBaseline();
    void this.sampleInWorker();
    this.timer = setInterval(() => this.tick(), this.config.intervalMs);
    this.timer.unref?.();
  }

  private tick(): void {
    const inFlight = this.inFlight;
    // A sample stuck far beyond its bound (nvidia-smi hanging) is abandoned: aborting a running
    // tinypool task ends that worker and starts a fresh one.
    if (inFlight && Date.now() - inFlight.startedAt > this.hardTimeoutMs()) {
      this.log?.warn(`resource sample stuck for ${Date.now() - inFlight.startedAt} ms; restarting the sampling worker`);
      inFlight.controller.abort();
      return;
    }
    void this.sampleInWorker();
  }

  private onWorkerError(error: unknown): void {
    if (this.closed) return;
    this.counts.failures++;
    const message = error instanceof Error ? error.message : String(error);
    this.inFlight?.controller.abort();
    if (this.counts.samples === 0) {
      // It never worked: stop trying and answer the OS's counters, saying why.
      this.broken = `sampling: the worker could not start (${message}); OS counters shown`;
      this.log?.warn(this.broken);
      if (this.timer) clearInterval(this.timer);
      this.timer = null;
    } else {
      this.log?.warn(`the sampling worker failed (${message}); a new one takes over`);
    }
  }

  private hardTimeoutMs(): number {
    return Math.max(4 * this.config.sampleTimeoutMs, 2 * this.config.intervalMs);
  }

  /** One sample in the worker (joins the one in flight); null when it failed. `gpu`: ask for GPUs even if not due. */
  private sampleInWorker(gpu = false): Promise<RawSample | null> {
    if (this.inFlight) return this.inFlight.promise;
    const pool = this.pool;
    if (!pool || this.closed || this.broken) return Promise.resolve(null);
    const controller = new AbortController();
    const askGpu = this.config.gpu && (gpu || this.gpuProbe.due());
    const cpu = this.firstCpuBaseline;
    this.firstCpuBaseline = null;
    const promise = (pool.run({ gpu: askGpu, ...(cpu ? { cpuBaseline: cpu } : {}) }, { signal: controller.signal }) as Promise<RawSample>)
      .then(
        (answer) => {
          if (this.closed) return null;
          const raw = this.gpuProbe.complete(answer, askGpu);
          this.accept(raw);
          return raw;
        },
        (error: unknown) => {
          if (!this.closed) {
            this.counts.failures++;
            this.log?.debug('resource sample failed', error);
          }
          return null;
        },
      )
      .finally(() => {
        if (this.inFlight?.promise === promise) this.inFlight = null;
      });
    this.inFlight = { promise, controller, startedAt: Date.now() };
    return promise;
  }

  private accept(raw: RawSample): void {
    const smoothed = this.smoother.add(raw);
    this.counts.samples++;
    this.counts.lastTookMs = raw.tookMs;
    this.counts.workerThreadId = raw.threadId;
    this.snapshot = {
      cpuLoad: smoothed.cpuLoad,
      memFreeBytes: smoothed.memFreeBytes,
      memTotalBytes: smoothed.memTotalBytes,
      gpus: smoothed.gpus,
      sampledAt: raw.sampledAt,
      trend: smoothed.trend,
      ...(raw.unavailable.length ? { unavailable: raw.unavailable } : {}),
    };
  }

  private isStale(now = Date.now()): boolean {
    return !this.snapshot || now - this.snapshot.sampledAt > 2 * this.config.intervalMs;
  }

  private withLoaded(snapshot: ResourceSnapshot): ResourceSnapshot {
    return this.loaded ? extend(snapshot, { loaded: this.loaded() }) : snapshot;
  }

  latest(): ResourceSnapshot {
    if (this.isStale() && this.pool && !this.closed) void this.sampleInWorker();
    const base = this.snapshot ?? { ...osSnapshot(), unavailable: [this.broken ?? 'sampling: the first sample is not in yet (OS counters shown)'] };
    return this.withLoaded(base);
  }

  async current(): Promise<ResourceSnapshot> {
    if (this.isStale() && this.pool && !this.closed) await within(this.sampleInWorker(), this.config.sampleTimeoutMs);
    return this.latest();
  }

  async sample(timeoutMs = this.config.sampleTimeoutMs): Promise<ResourceSnapshot> {
    const deadline = Date.now() + timeoutMs;
    // A sample already running may have started before the caller's change: wait it out, then take another.
    if (this.inFlight) await within(this.inFlight.promise, timeoutMs);
    // GPUs too: VRAM is what comes back after an unload.
    const raw = await within(this.sampleInWorker(true), deadline - Date.now());
    if (!raw) return this.latest();
    return this.withLoaded({
      cpuLoad: raw.cpuLoad,
      memFreeBytes: raw.memFreeBytes,
      memTotalBytes: raw.memTotalBytes,
      gpus: raw.gpus,
      sampledAt: raw.sampledAt,
      ...(raw.unavailable.length ? { unavailable: raw.unavailable } : {}),
    });
  }

  stats(): SamplingStats {
    return { ...this.counts, workers: this.pool?.threads.length ?? 0, gpuProbes: this.gpuProbe.probes() };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.counts.running = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const pool = this.pool;
    this.pool = null;
    this.inFlight = null;
    // destroy() ends the worker even mid-sample (aborting would start a replacement first).
    await pool?.destroy();
  }
}
