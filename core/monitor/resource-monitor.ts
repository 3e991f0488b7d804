/**
 * The monitor's interface, and the cheap one used when sampling is off: it reads only what the
 * OS answers without blocking (os.freemem/totalmem/loadavg). The sampling monitor runs
 * systeminformation in worker threads (see sampling-monitor.ts).
 */
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import type { LoadedModelMemory, ResourceSnapshot } from '../types.ts';
import { extend } from '../extend.ts';

export interface ResourceMonitor {
  /** The latest snapshot; never waits on a probe. */
  latest(): ResourceSnapshot;
  /** The latest snapshot when fresh; when stale, a fresh sample waited for at most a short timeout. */
  current(): Promise<ResourceSnapshot>;
  /** A reading taken after this call (not smoothed), to see memory come back after an unload. */
  sample(timeoutMs?: number): Promise<ResourceSnapshot>;
  start(): void;
  close(): Promise<void>;
}

/** What the backends say is loaded (the catalogue's view), added to every snapshot. */
export type LoadedModelsSource = () => LoadedModelMemory[];

export function osSnapshot(): ResourceSnapshot {
  let cpuLoad: number | null;
  try {
    cpuLoad = Math.min(1, (loadavg()[0] ?? 0) / Math.max(1, cpus().length));
  } catch {
    cpuLoad = null;
  }
  let memFreeBytes: number | null = null;
  let memTotalBytes: number | null = null;
  try {
    memFreeBytes = freemem();
    memTotalBytes = totalmem();
  } catch {
    // Deno without --allow-sys: unknown, not fatal.
  }
  return { cpuLoad, memFreeBytes, memTotalBytes, gpus: [], sampledAt: Date.now() };
}

/** Reads the OS's own counters on demand (cheap system calls, no probes). */
export class OsMonitor implements ResourceMonitor {
  private snapshot: ResourceSnapshot | null = null;
  constructor(private readonly loaded?: LoadedModelsSource) {}
  latest(): ResourceSnapshot {
    if (!this.snapshot || Date.now() - this.snapshot.sampledAt > 1_000) this.snapshot = osSnapshot();
    return this.loaded ? extend(this.snapshot, { loaded: this.loaded() }) : this.snapshot;
  }
  async current(): Promise<ResourceSnapshot> {
    return this.latest();
  }
  async sample(): Promise<ResourceSnapshot> {
    this.snapshot = osSnapshot();
    return this.latest();
  }
  start(): void {}
  async close(): Promise<void> {}
}

/** A monitor that always answers the same snapshot (for tests and for replaying a trace). */
export class FixedMonitor implements ResourceMonitor {
  constructor(public snapshot: ResourceSnapshot) {}
  latest(): ResourceSnapshot {
    return this.snapshot;
  }
  async current(): Promise<ResourceSnapshot> {
    return this.snapshot;
  }
  async sample(): Promise<ResourceSnapshot> {
    return this.snapshot;
  }
  start(): void {}
  async close(): Promise<void> {}
}
