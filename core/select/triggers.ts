/**
 * When Mai moves off a model that still fits, by itself: replies slower than a threshold, memory
 * or CPU above a threshold, repeated failures. Pressure has hysteresis: it counts as gone only
 * once each metric is back `pressureBand` inside its threshold (1.25: free memory 25 % above the
 * line, CPU 20 % below it), so a metric hovering at its threshold cannot make the choice flap.
 */
import type { SwitchingConfig } from '../config/schema.ts';
import type { AttemptEvent, ResourceSnapshot } from '../types.ts';
import { ewma } from '../monitor/smoothing.ts';

export type TriggerKind = 'slow-replies' | 'memory-high' | 'cpu-high' | 'failures';

export interface Trigger {
  kind: TriggerKind;
  detail: string;
}

export type TriggerConfig = Pick<SwitchingConfig, 'slowReplyMs' | 'memoryHighShare' | 'cpuHighShare'> & { pressureBand?: number };

/** Failures within the window that make a model worth leaving before it cools down. */
export const REPEATED_FAILURES = 2;
const DEFAULT_BAND = 1.25;

export interface TriggerInput {
  resources: ResourceSnapshot | undefined;
  /** The current model's recent reply time (EWMA), when measured. */
  replyMs: number | null | undefined;
  recentFailures: number | undefined;
}

const pct = (share: number) => `${Math.round(share * 100)} %`;

function memoryFreeShare(resources: ResourceSnapshot | undefined): number | null {
  if (!resources || resources.memFreeBytes === null || !resources.memTotalBytes) return null;
  return resources.memFreeBytes / resources.memTotalBytes;
}

export function activeTriggers(input: TriggerInput, config: TriggerConfig): Trigger[] {
  const triggers: Trigger[] = [];
  if (input.replyMs != null && input.replyMs > config.slowReplyMs) {
    triggers.push({ kind: 'slow-replies', detail: `replies take ~${Math.round(input.replyMs)} ms (threshold ${config.slowReplyMs} ms)` });
  }
  const free = memoryFreeShare(input.resources);
  if (free !== null && free < 1 - config.memoryHighShare) {
    triggers.push({ kind: 'memory-high', detail: `memory ${pct(1 - free)} used (threshold ${pct(config.memoryHighShare)})` });
  }
  const cpu = input.resources?.cpuLoad ?? null;
  if (cpu !== null && cpu > config.cpuHighShare) {
    triggers.push({ kind: 'cpu-high', detail: `CPU ${pct(cpu)} busy (threshold ${pct(config.cpuHighShare)})` });
  }
  if ((input.recentFailures ?? 0) >= REPEATED_FAILURES) {
    triggers.push({ kind: 'failures', detail: `${input.recentFailures} recent failures` });
  }
  return triggers;
}

/** True when memory and CPU are clearly below their thresholds (unknown counts as clear). */
export function pressureRelieved(resources: ResourceSnapshot | undefined, config: TriggerConfig): boolean {
  const band = config.pressureBand ?? DEFAULT_BAND;
  const free = memoryFreeShare(resources);
  if (free !== null && free < band * (1 - config.memoryHighShare)) return false;
  const cpu = resources?.cpuLoad ?? null;
  if (cpu !== null && cpu > config.cpuHighShare / band) return false;
  return true;
}

/** A moving average of each model's reply time (successful attempts, start to last token). */
export class ReplyTimes {
  private readonly times = new Map<string, number>();
  constructor(private readonly smoothing = 0.5) {}

  observe(event: AttemptEvent): void {
    if (!event.ok || event.durationMs === undefined) return;
    this.times.set(event.model, ewma(this.times.get(event.model) ?? null, event.durationMs, this.smoothing)!);
  }

  of(model: string): number | null {
    return this.times.get(model) ?? null;
  }
}
