/** What select makes of every candidate for a turn: the ranking, best first. */
import type { CatalogModel } from '../types.ts';

/** One candidate as select saw it: its score and, if vetoed, why. */
export interface RankedModel {
  model: CatalogModel;
  score: number;
  fits: boolean;
  vetoes: string[];
  reasons: string[];
  scores: Record<string, number>;
}
