/**
 * Rates every candidate with the configured scorers (weighted sum; a veto excludes; ties go to
 * the higher `priority`, then config order) and chooses with hysteresis, so the choice does not
 * flap: the current model stays unless it is vetoed, or a challenger beats it by `margin`, or a
 * proactive trigger (slow replies, memory or CPU pressure, repeated failures) moves to a lighter
 * model — and proactive moves are at least `minDwellMs` apart. A move to a heavier model waits
 * until pressure is clearly gone. A pin is honoured while the pinned model fits; when it does not,
 * the error says why. Nothing fits at all: the smallest model is tried (minimal-resource mode).
 */
import type { SwitchingConfig } from '../config/schema.ts';
import { ErrorCodes, MaiError } from '../errors.ts';
import type { RankedModel } from './ranking.ts';
import type { CatalogModel, ResourceSnapshot, Scorer, TurnNeeds } from '../types.ts';
import { estimateMemory, lighter, tierOf } from './memory-estimate.ts';
import { activeTriggers, pressureRelieved, type Trigger, type TriggerConfig } from './triggers.ts';

export interface WeightedScorer {
  scorer: Scorer;
  weight: number;
}

export interface RankInput {
  catalog: readonly CatalogModel[];
  resources: ResourceSnapshot;
  needs: TurnNeeds;
  current: string | null;
  now?: number;
}

export interface ChooseInput {
  /** A model named for this turn or pinned with models/switch. */
  pinned: string | null;
  current: string | null;
  /** When the current model was chosen (for the minimum dwell between proactive switches). */
  currentSince?: number;
  now?: number;
  /** The machine now, for the memory and CPU triggers. */
  resources?: ResourceSnapshot;
  /** The current model's recent reply time (moving average), for the slow-reply trigger. */
  replyMs?: number | null;
  /** The current model's failures within the failure window. */
  recentFailures?: number;
  /** True while a model cools down after repeated failures: a pinned one is still tried first. */
  coolingDown?: (model: string) => boolean;
}

export interface Choice {
  model: CatalogModel;
  /** pinned; best (first choice, or the current one is vetoed, or beaten by the margin); kept; proactive (a trigger); minimal-resource. */
  reason: 'pinned' | 'best' | 'kept' | 'proactive' | 'minimal-resource';
  /** Why, in words (status.lastSwitch, logs). */
  detail: string;
  /** The proactive triggers behind a `proactive` choice. */
  triggers?: Trigger[];
}

/**
 * Scores are compared in steps of this size: two in one step are equal (ties follow priority, then
 * config order). Steps rather than "closer than this": closeness is not transitive (a ≈ b and b ≈ c
 * while a > c), and a sort given such a comparison put three near-equal models in whatever order it
 * happened to compare them (Node's and Deno's sorts gave two rankings of one catalogue).
 */
export const SCORE_EPSILON = 1e-9;
/** A score's step (SCORE_EPSILON): equal steps are a tie. */
const scoreStep = (score: number): number => Math.round(score / SCORE_EPSILON);

const fmt = (n: number) => n.toFixed(3);

export class Selector {
  private readonly triggerConfig: TriggerConfig;

  constructor(
    private readonly scorers: ReadonlyArray<WeightedScorer>,
    private readonly switching: SwitchingConfig,
  ) {
    this.triggerConfig = switching;
  }

  rank(input: RankInput): RankedModel[] {
    const now = input.now ?? Date.now();
    const totalWeight = this.scorers.reduce((sum, s) => sum + s.weight, 0) || 1;
    const ranked = input.catalog.map((model, order) => {
      const scores: Record<string, number> = {};
      const vetoes: string[] = [];
      const reasons: string[] = [];
      let total = 0;
      // A model that cannot run here is vetoed whatever the scorers say (they may be configured away).
      if (model.unavailable) vetoes.push(`cannot run here: ${model.unavailable}`);
      for (const { scorer, weight } of this.scorers) {
        const verdict = scorer.score({ model, catalog: input.catalog, resources: input.resources, needs: input.needs, current: input.current, now });
        const value = Number.isFinite(verdict.score) ? Math.min(1, Math.max(0, verdict.score)) : 0;
        scores[scorer.name] = value;
        total += weight * value;
        if (verdict.veto) vetoes.push(`${scorer.name}: ${verdict.veto}`);
        else if (verdict.reason) reasons.push(`${scorer.name}: ${verdict.reason}`);
      }
      return { entry: { model, score: total / totalWeight, fits: vetoes.length === 0, vetoes, reasons, scores }, order };
    });
    ranked.sort((a, b) => {
      if (a.entry.fits !== b.entry.fits) return a.entry.fits ? -1 : 1;
      const steps = scoreStep(b.entry.score) - scoreStep(a.entry.score);
      if (steps !== 0) return steps;
      return b.entry.model.priority - a.entry.model.priority || a.order - b.order;
    });
    return ranked.map((r) => r.entry);
  }

  choose(ranking: readonly RankedModel[], input: ChooseInput): Choice {
    if (ranking.length === 0) {
      throw new MaiError(ErrorCodes.noModelFits, 'No model is available: no configured backend reported any model. Check `mai status` for unreachable backends.', {
        data: { models: [] },
      });
    }
    if (input.pinned) return this.pinned(ranking, input.pinned, input.coolingDown);
    const best = ranking.find((r) => r.fits);
    if (!best) {
      const runnable = ranking.filter((r) => !r.model.unavailable);
      if (runnable.length === 0) {
        // One line per reason (every GGUF model shares its backend's), not one per model.
        const byReason = new Map<string, string[]>();
        for (const r of ranking) byReason.set(r.model.unavailable!, [...(byReason.get(r.model.unavailable!) ?? []), r.model.id]);
        const why = [...byReason].map(([reason, ids]) => `${ids.join(', ')}: ${reason}`);
        throw new MaiError(ErrorCodes.noModelFits, `No model can run here: ${why.join('; ')}`, { retryable: false, data: { models: ranking.map((r) => ({ id: r.model.id, unavailable: r.model.unavailable })) } });
      }
      const smallest = minimalResource(runnable, input.current);
      return { model: smallest.model, reason: 'minimal-resource', detail: `nothing fits (${smallest.model.id}: ${smallest.vetoes.join('; ')}); trying the smallest model` };
    }
    const current = input.current ? ranking.find((r) => r.model.id === input.current) : undefined;
    if (!current) return { model: best.model, reason: 'best', detail: `best fitting model (score ${fmt(best.score)})` };
    if (!current.fits) {
      return { model: best.model, reason: 'best', detail: `${current.model.id} no longer fits (${current.vetoes.join('; ')})` };
    }
    const now = input.now ?? Date.now();
    const dwelling = input.currentSince !== undefined && now - input.currentSince < this.switching.minDwellMs;
    const kept = (why: string): Choice => ({ model: current.model, reason: 'kept', detail: why });
    // This machine's memory and CPU are no reason to leave a model another host serves.
    const triggers = activeTriggers(
      { resources: input.resources, replyMs: input.replyMs, recentFailures: input.recentFailures },
      this.triggerConfig,
    ).filter((t) => current.model.local !== false || (t.kind !== 'memory-high' && t.kind !== 'cpu-high'));
    if (triggers.length > 0) {
      const target = this.relief(ranking, current, triggers);
      if (!target) return kept(`${describe(triggers)}, but no other model fits that would help`);
      if (dwelling) return kept(`${describe(triggers)}, but the last switch was under ${this.switching.minDwellMs} ms ago`);
      return { model: target.model, reason: 'proactive', detail: describe(triggers), triggers };
    }
    if (best === current) return kept('still the best');
    if (best.score - current.score < this.switching.margin) {
      return kept(`${best.model.id} scores ${fmt(best.score)}, within the ${this.switching.margin} margin of ${fmt(current.score)}`);
    }
    if (dwelling) return kept(`the last switch was under ${this.switching.minDwellMs} ms ago`);
    if (lighter(current.model, best.model) && !pressureRelieved(input.resources, this.triggerConfig)) {
      return kept(`${best.model.id} is heavier and memory or CPU is still near its threshold`);
    }
    return {
      model: best.model,
      reason: 'best',
      detail: `${best.model.id} scores ${fmt(best.score)}, beating ${current.model.id}'s ${fmt(current.score)} by more than the ${this.switching.margin} margin`,
    };
  }

  /**
   * A model the client named (pinned, or the turn's `model`) is honoured while it fits. A cooldown
   * alone does not refuse it: it is tried first, and when it fails again the turn falls back as any
   * turn does, the failed attempt visible in `attempts` (cooldowns order fallbacks; they do not
   * override the client). Resource vetoes still refuse it (-32021).
   */
  private pinned(ranking: readonly RankedModel[], id: string, coolingDown?: (model: string) => boolean): Choice {
    const pinned = ranking.find((r) => r.model.id === id || `${r.model.backend}/${r.model.backendModelId}` === id);
    if (!pinned) {
      const known = ranking.map((r) => r.model.id);
      throw new MaiError(ErrorCodes.unknownModel, `Unknown model "${id}". Known models: ${known.join(', ')}.`, {
        data: { model: id, known },
      });
    }
    if (pinned.model.unavailable) {
      throw new MaiError(ErrorCodes.pinnedModelUnfit, `The model ${pinned.model.id} cannot run here: ${pinned.model.unavailable}`, {
        retryable: false,
        data: { model: pinned.model.id, vetoes: pinned.vetoes },
      });
    }
    const onlyCooling = coolingDown?.(pinned.model.id) === true && pinned.vetoes.every((v) => / cooling down /.test(v));
    if (!pinned.fits && !onlyCooling) {
      throw new MaiError(
        ErrorCodes.pinnedModelUnfit,
        `The pinned model ${pinned.model.id} does not fit now: ${pinned.vetoes.join('; ')}. Unpin it with \`mai switch auto\` or free resources.`,
        { retryable: false, data: { model: pinned.model.id, vetoes: pinned.vetoes } },
      );
    }
    return { model: pinned.model, reason: 'pinned', detail: `${pinned.model.id} was chosen by the client (models/switch or the turn's model)` };
  }

  /** The best-scored fitting model that relieves the triggers: lighter under pressure or slow replies, any other after failures. */
  private relief(ranking: readonly RankedModel[], current: RankedModel, triggers: Trigger[]): RankedModel | undefined {
    const needLighter = triggers.some((t) => t.kind !== 'failures');
    return ranking.find((r) => r.fits && r !== current && (!needLighter || lighter(r.model, current.model)));
  }
}

function describe(triggers: readonly Trigger[]): string {
  return triggers.map((t) => t.detail).join('; ');
}

/**
 * Nothing fits: the smallest model (lowest tier, then least memory, then ranking order) — or the
 * current one when it is of that lowest tier already (no swap between equally small models).
 */
export function minimalResource(ranking: readonly RankedModel[], current?: string | null): RankedModel {
  const lowest = Math.min(...ranking.map((r) => tierOf(r.model)));
  const kept = current ? ranking.find((r) => r.model.id === current && tierOf(r.model) === lowest) : undefined;
  if (kept) return kept;
  return ranking
    .map((r, i) => ({ r, i }))
    .sort((a, b) => tierOf(a.r.model) - tierOf(b.r.model) || estimateMemory(a.r.model) - estimateMemory(b.r.model) || a.i - b.i)[0]!.r;
}
