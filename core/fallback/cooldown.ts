/**
 * Remembers recent failures per model: after `failuresBeforeCooldown` failures within
 * `failureWindowMs`, the model cools down for `cooldownMs` (tried last, never first).
 */
import type { FallbackConfig } from '../config/schema.ts';

export class Cooldowns {
  private readonly failures = new Map<string, number[]>();
  private readonly until = new Map<string, number>();
  /** The failure that last cooled each model (what `status` and `models` say as the why). */
  private readonly reasons = new Map<string, string>();

  constructor(private readonly config: Pick<FallbackConfig, 'cooldownMs' | 'failuresBeforeCooldown' | 'failureWindowMs'>) {}

  recordFailure(model: string, now = Date.now(), reason?: string): void {
    const recent = (this.failures.get(model) ?? []).filter((t) => now - t < this.config.failureWindowMs);
    recent.push(now);
    this.failures.set(model, recent);
    if (recent.length >= this.config.failuresBeforeCooldown) {
      this.until.set(model, now + this.config.cooldownMs);
      this.reasons.set(model, `${recent.length} failures within ${Math.round(this.config.failureWindowMs / 1000)} s${reason ? `, the last: ${reason}` : ''}`);
    }
  }

  /** Why a model cools down now (undefined when it does not). */
  why(model: string, now = Date.now()): string | undefined {
    return this.coolingDown(model, now) ? this.reasons.get(model) : undefined;
  }

  recordSuccess(model: string): void {
    this.failures.delete(model);
  }

  /** Failures within the window, for scorers that lower a model's score before it cools down. */
  recentFailures(model: string, now = Date.now()): number {
    return (this.failures.get(model) ?? []).filter((t) => now - t < this.config.failureWindowMs).length;
  }

  coolingDown(model: string, now = Date.now()): boolean {
    const until = this.until.get(model);
    return until !== undefined && until > now;
  }

  /** Models cooling down now and until when (ISO time). */
  snapshot(now = Date.now()): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [model, until] of this.until) if (until > now) out[model] = new Date(until).toISOString();
    return out;
  }
}
