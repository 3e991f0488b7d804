/**
 * Turns raw samples into what selection reads: an EWMA per metric (so one spike does not move a
 * model) and the trend — the least-squares slope per second — over the last `window` samples.
 * A metric that could not be read resets to null rather than keeping a stale value.
 */
import type { GpuSnapshot, ResourceTrend } from '../types.ts';

export interface RawGpu {
  name: string;
  vramTotalBytes: number | null;
  vramFreeBytes: number | null;
}

/** What the worker (core/monitor/sample.worker.js) answers. */
export interface RawSample {
  cpuLoad: number | null;
  memTotalBytes: number | null;
  memFreeBytes: number | null;
  gpus: RawGpu[];
  /** Whether this sample asked for GPUs (when not, the monitor fills in the last answer: gpu-probe.ts). */
  gpuProbed?: boolean;
  unavailable: string[];
  sampledAt: number;
  tookMs: number;
  threadId: number;
}

export interface Smoothed {
  cpuLoad: number | null;
  memFreeBytes: number | null;
  memTotalBytes: number | null;
  gpus: GpuSnapshot[];
  trend: ResourceTrend;
}

export function ewma(previous: number | null, next: number | null, weight: number): number | null {
  if (next === null) return null;
  if (previous === null) return next;
  return weight * next + (1 - weight) * previous;
}

/** Least-squares slope of value over time, per second; null with fewer than two points. */
export function slopePerSecond(points: ReadonlyArray<{ at: number; value: number }>): number | null {
  if (points.length < 2) return null;
  const n = points.length;
  const t0 = points[0]!.at;
  let sx = 0;
  let sy = 0;
  for (const p of points) {
    sx += (p.at - t0) / 1000;
    sy += p.value;
  }
  const mx = sx / n;
  const my = sy / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    const dx = (p.at - t0) / 1000 - mx;
    num += dx * (p.value - my);
    den += dx * dx;
  }
  return den === 0 ? null : num / den;
}

export class Smoother {
  private state: Smoothed | null = null;
  private readonly history: Array<{ at: number; cpuLoad: number | null; memFreeBytes: number | null }> = [];

  constructor(
    private readonly weight: number,
    private readonly window: number,
  ) {}

  add(sample: RawSample): Smoothed {
    const prev = this.state;
    const gpus = sample.gpus.map((g, i) => {
      const before = prev?.gpus[i];
      const same = before && before.name === g.name;
      return {
        name: g.name,
        vramTotalBytes: g.vramTotalBytes,
        vramFreeBytes: ewma(same ? before.vramFreeBytes : null, g.vramFreeBytes, this.weight),
      };
    });
    const cpuLoad = ewma(prev?.cpuLoad ?? null, sample.cpuLoad, this.weight);
    const memFreeBytes = ewma(prev?.memFreeBytes ?? null, sample.memFreeBytes, this.weight);
    this.history.push({ at: sample.sampledAt, cpuLoad, memFreeBytes });
    while (this.history.length > this.window) this.history.shift();
    const series = (key: 'cpuLoad' | 'memFreeBytes') =>
      this.history.flatMap((h) => (h[key] === null ? [] : [{ at: h.at, value: h[key] }]));
    this.state = {
      cpuLoad,
      memFreeBytes,
      memTotalBytes: sample.memTotalBytes,
      gpus,
      trend: {
        cpuLoadPerSecond: slopePerSecond(series('cpuLoad')),
        memFreeBytesPerSecond: slopePerSecond(series('memFreeBytes')),
        samples: this.history.length,
      },
    };
    return this.state;
  }

  get current(): Smoothed | null {
    return this.state;
  }
}
