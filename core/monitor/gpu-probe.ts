/**
 * When a sample asks for GPUs, and what the samples in between say. systeminformation's graphics()
 * starts processes (lspci, nvidia-smi, …) on every call: ~25 ms of the worker's CPU plus ~60 ms in
 * those processes per call on a Linux machine without a GPU — most of what sampling every 2 s cost.
 * The set of GPUs does not change while Mai runs, so it is asked at the first sample, then:
 * - every sample while a GPU with a free-memory figure was found (that figure moves as models load);
 * - otherwise (no GPU, or only fixed figures) again every `reprobeMs` (GPU_REPROBE_MS by default),
 *   and in between each sample carries the last answer — including why GPUs were unavailable.
 */
import type { RawGpu, RawSample } from './smoothing.ts';

/** How often GPUs are asked for again when the last answer had no free-memory figure to follow. */
export const GPU_REPROBE_MS = 60_000;

export class GpuProbe {
  private probedAt: number | null = null;
  private gpus: RawGpu[] = [];
  /** The `gpu: …` lines of the last probe's `unavailable`. */
  private reasons: string[] = [];
  private count = 0;

  constructor(
    private readonly enabled: boolean,
    private readonly reprobeMs = GPU_REPROBE_MS,
  ) {}

  /** Whether the next sample should ask for GPUs. */
  due(now = Date.now()): boolean {
    if (!this.enabled) return false;
    if (this.probedAt === null) return true;
    if (this.gpus.some((gpu) => gpu.vramFreeBytes !== null)) return true;
    return now - this.probedAt >= this.reprobeMs;
  }

  /** How many samples asked for GPUs so far. */
  probes(): number {
    return this.count;
  }

  /**
   * A sample that asked for GPUs updates what is remembered; one that did not gets the last answer
   * (with GPUs off, nothing: the sample says none, as before).
   */
  complete(raw: RawSample, asked: boolean, now = Date.now()): RawSample {
    if (!this.enabled) return raw;
    if (raw.gpuProbed ?? asked) {
      this.count++;
      this.probedAt = now;
      this.gpus = raw.gpus;
      this.reasons = raw.unavailable.filter((line) => line.startsWith('gpu:'));
      return raw;
    }
    if (this.probedAt === null) return raw;
    return { ...raw, gpus: this.gpus, unavailable: [...raw.unavailable, ...this.reasons] };
  }
}
