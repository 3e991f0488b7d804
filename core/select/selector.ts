/**
 * Rates every candidate with the configured scorers (weighted sum, a veto excludes, ties follow
 * config order) and chooses with hysteresis, so the choice does not flap. A pin is honoured
 * while the pinned model fits; when it does not, the error says why.
 */
import type { SwitchingConfig } from '../config/schema.ts';
import { ErrorCodes, MaiError } from '../errors.ts';
import type { RankedModel } from '../pipeline/turn.ts';
import type { CatalogModel, ResourceSnapshot, Scorer, TurnNeeds } from '../types.ts';

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
}

export interface Choice {
  model: CatalogModel;
  /** Why this one: pinned, best, kept (hysteresis), minimal-resource. */
  reason: 'pinned' | 'best' | 'kept' | 'minimal-resource';
}

const tierRank = { small: 0, medium: 1, large: 2 } as const;

export class Selector {
  constructor(
    private readonly scorers: ReadonlyArray<WeightedScorer>,
    private readonly switching: SwitchingConfig,
  ) {}

  rank(input: RankInput): RankedModel[] {
    const now = input.now ?? Date.now();
    const totalWeight = this.scorers.reduce((sum, s) => sum + s.weight, 0) || 1;
    const ranked = input.catalog.map((model, order) => {
      const scores: Record<string, number> = {};
      const vetoes: string[] = [];
      const reasons: string[] = [];
      let total = 0;
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
    ranked.sort((a, b) => Number(b.entry.fits) - Number(a.entry.fits) || b.entry.score - a.entry.score || a.order - b.order);
    return ranked.map((r) => r.entry);
  }

  choose(ranking: readonly RankedModel[], input: ChooseInput): Choice {
    if (ranking.length === 0) {
      throw new MaiError(ErrorCodes.noModelFits, 'No model is available: no configured backend reported any model. Check `mai status` for unreachable backends.', {
        data: { models: [] },
      });
    }
    if (input.pinned) {
      const pinned = ranking.find((r) => r.model.id === input.pinned || `${r.model.backend}/${r.model.backendModelId}` === input.pinned);
      if (!pinned) {
        const known = ranking.map((r) => r.model.id);
        throw new MaiError(ErrorCodes.unknownModel, `Unknown model "${input.pinned}". Known models: ${known.join(', ')}.`, {
          data: { model: input.pinned, known },
        });
      }
      if (!pinned.fits) {
        throw new MaiError(
          ErrorCodes.pinnedModelUnfit,
          `The pinned model ${pinned.model.id} does not fit now: ${pinned.vetoes.join('; ')}. Unpin it with \`mai switch auto\` or free resources.`,
          { retryable: false, data: { model: pinned.model.id, vetoes: pinned.vetoes } },
        );
      }
      return { model: pinned.model, reason: 'pinned' };
    }
    const best = ranking.find((r) => r.fits);
    if (!best) {
      // Nothing fits: minimal-resource mode tries the smallest model anyway.
      const smallest = [...ranking].sort(
        (a, b) => tierRank[a.model.tier] - tierRank[b.model.tier] || (a.model.sizeBytes ?? 0) - (b.model.sizeBytes ?? 0),
      )[0]!;
      return { model: smallest.model, reason: 'minimal-resource' };
    }
    const current = input.current ? ranking.find((r) => r.model.id === input.current) : undefined;
    if (current && current.fits && current !== best) {
      const now = input.now ?? Date.now();
      const dwelling = input.currentSince !== undefined && now - input.currentSince < this.switching.minDwellMs;
      if (dwelling || best.score - current.score < this.switching.margin) return { model: current.model, reason: 'kept' };
    }
    return { model: best.model, reason: best === current ? 'kept' : 'best' };
  }
}
