/**
 * When a sample asks for GPUs, and what the samples in between say. systeminformation's graphics()
 * starts processes (lspci, nvidia-smi, …) on every call: ~25 ms of the worker's CPU plus ~60 ms in
 * those processes per call on a Linux machine without a GPU — most of what sampling every 2 s cost.
 * The set of GPUs does not change while Mai runs, so it is asked at the first sample, then:
 * - every sample while a GPU with a free-memory figure was found (that figure moves as models load);
 * - otherwise (no GPU, or only fixed figures) again every `reprobeMs` (GPU_REPROBE_MS by default),
 *   and in between each sample carries the last answer — including why GPUs were unavailable.
 * Such an answer is also remembered in the state directory (`memoFile`), so a Mai that starts within
 * `reprobeMs` of another's probe (a one-shot `mai chat`, an editor restarting `mai serve`) carries it
 * as that Mai's own next samples would, instead of starting lspci, xdpyinfo, xrandr… again: ~35 ms
 * of CPU per start on a machine without a GPU. An answer with a free-memory figure is never
 * remembered (that figure moves), and a memo that is old, unreadable or from the future is ignored.
 */
import { readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import type { RawGpu, RawSample } from './smoothing.ts';

/** How often GPUs are asked for again when the last answer had no free-memory figure to follow. */
export const GPU_REPROBE_MS = 60_000;

/** What the memo file holds: the last probe's time and answer. */
interface GpuMemo {
  probedAt: number;
  gpus: RawGpu[];
  reasons: string[];
}

export class GpuProbe {
  private probedAt: number | null = null;
  private gpus: RawGpu[] = [];
  /** The `gpu: …` lines of the last probe's `unavailable`. */
  private reasons: string[] = [];
  private count = 0;

  constructor(
    private readonly enabled: boolean,
    private readonly reprobeMs = GPU_REPROBE_MS,
    /** Where the last answer without a free-memory figure is shared with other Mai (none: not shared). */
    private readonly memoFile?: string,
  ) {
    if (enabled && memoFile) this.recall(memoFile);
  }

  private recall(file: string, now = Date.now()): void {
    try {
      const memo = JSON.parse(readFileSync(file, 'utf8')) as Partial<GpuMemo>;
      const { probedAt, gpus, reasons } = memo;
      if (typeof probedAt !== 'number' || !Array.isArray(gpus) || !Array.isArray(reasons)) return;
      if (probedAt > now || now - probedAt >= this.reprobeMs || gpus.some((gpu: RawGpu) => gpu.vramFreeBytes !== null)) return;
      if (!gpus.every((gpu: RawGpu) => typeof gpu?.name === 'string') || !reasons.every((line) => typeof line === 'string' && line.startsWith('gpu:'))) return;
      this.probedAt = probedAt;
      this.gpus = gpus;
      this.reasons = reasons;
    } catch {
      // none yet, or unreadable: this Mai probes
    }
  }

  /** Shares an answer without free-memory figures (written beside, then renamed in: never half a file). */
  private remember(file: string, memo: GpuMemo): void {
    const next = `${file}.${process.pid}.tmp`;
    writeFile(next, `${JSON.stringify(memo)}\n`, { mode: 0o600 })
      .then(() => rename(next, file))
      .catch(() => undefined); // a state directory that cannot be written: each Mai probes for itself
  }

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
      if (this.memoFile && !this.gpus.some((gpu) => gpu.vramFreeBytes !== null)) this.remember(this.memoFile, { probedAt: now, gpus: this.gpus, reasons: this.reasons });
      return raw;
    }
    if (this.probedAt === null) return raw;
    return { ...raw, gpus: this.gpus, unavailable: [...raw.unavailable, ...this.reasons] };
  }
}
