/**
 * resource-fit: vetoes a model whose estimated memory (file size + KV cache for the context it
 * would run with + overhead) exceeds a share of what is free — counting what unloading the current
 * model would free — and prefers the most capable tier that fits.
 */
import { z } from 'zod';
import { definePlugin } from '../../core/plugin.ts';
import type { CatalogModel, ScoreInput } from '../../core/types.ts';

export const ResourceFitOptions = z
  .object({
    maxShareOfFree: z.number().min(0.05).max(1).default(0.8),
    overheadBytes: z.number().min(0).default(256 * 1024 ** 2),
    minContextTokens: z.number().int().positive().default(4096),
  })
  .strict();
export type ResourceFitOptions = z.infer<typeof ResourceFitOptions>;

const tierScore = { small: 1 / 3, medium: 2 / 3, large: 1 } as const;
const GB = 1024 ** 3;

/** Tokens of KV cache the model would be run with for this turn. */
export function kvTokens(model: CatalogModel, input: Pick<ScoreInput, 'needs'>, minContextTokens: number): number {
  return Math.min(model.contextLength, Math.max(minContextTokens, input.needs.fullPromptTokens + input.needs.replyTokens));
}

/** 2 × layers × KV heads × head size × tokens × bytes per element; 0 when the architecture is unknown. */
export function kvCacheBytes(model: CatalogModel, tokens: number): number {
  const a = model.architecture;
  if (!a?.layers || !a.embeddingSize || !a.heads) return 0;
  const headSize = a.embeddingSize / a.heads;
  return 2 * a.layers * (a.kvHeads ?? a.heads) * headSize * tokens * (a.kvBytesPerElement ?? 2);
}

/** Bytes the model needs resident to answer this turn. */
export function estimateMemory(model: CatalogModel, input: Pick<ScoreInput, 'needs'>, options: ResourceFitOptions): number {
  const weights = model.sizeBytes ?? model.memoryBytes ?? 0;
  return Math.max(weights + kvCacheBytes(model, kvTokens(model, input, options.minContextTokens)) + options.overheadBytes, model.minMemoryBytes ?? 0);
}

export function scoreResourceFit(input: ScoreInput, options: ResourceFitOptions) {
  const { model, resources } = input;
  const tier = tierScore[model.tier];
  if (model.minVramBytes !== undefined && model.minVramBytes > 0) {
    const freeVram = Math.max(0, ...resources.gpus.map((g) => g.vramFreeBytes ?? 0));
    if (resources.gpus.length === 0 || freeVram < model.minVramBytes) {
      return { score: 0, veto: `needs ${(model.minVramBytes / GB).toFixed(1)} GB of VRAM, ${(freeVram / GB).toFixed(1)} GB free` };
    }
  }
  if (model.loaded) return { score: tier, reason: 'already loaded' };
  if (resources.memFreeBytes === null) return { score: tier, reason: 'free memory unknown' };
  // Unloading the current model (if another, and loaded) would free what it holds.
  const current = input.current === model.id ? undefined : input.catalog.find((m) => m.id === input.current && m.loaded);
  const reclaimable = current ? (current.memoryBytes ?? current.sizeBytes ?? 0) : 0;
  const available = (resources.memFreeBytes + reclaimable) * options.maxShareOfFree;
  const needed = estimateMemory(model, input, options);
  if (needed > available) {
    return { score: 0, veto: `needs ~${(needed / GB).toFixed(2)} GB, ${(available / GB).toFixed(2)} GB usable (${Math.round(options.maxShareOfFree * 100)} % of free)` };
  }
  return { score: tier, reason: `needs ~${(needed / GB).toFixed(2)} GB of ${(available / GB).toFixed(2)} GB usable` };
}

export default definePlugin({
  kind: 'scorer',
  name: 'resource-fit',
  description: 'Vetoes models that do not fit in free memory; prefers the most capable tier that fits.',
  options: ResourceFitOptions,
  create(options) {
    return { name: 'resource-fit', score: (input) => scoreResourceFit(input, options) };
  },
});
