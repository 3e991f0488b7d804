/**
 * How much memory a model needs to answer a turn, and how much there is for it. Shared by the
 * resource-fit scorer (which vetoes what does not fit) and the switcher (which decides what to
 * unload first). The KV cache is sized for the window Mai asks the backend for — the model's
 * context length (set `models[].contextLength` lower in the config to run a big-window model
 * with a smaller, cheaper cache).
 */
import type { CatalogModel, ResourceSnapshot } from '../types.ts';

export const GiB = 1024 ** 3;

export interface MemoryRules {
  /** Share of what is free a model may take (0.8: 80 %). */
  maxShareOfFree: number;
  /** Runtime buffers beyond weights and KV cache. */
  overheadBytes: number;
}

export const defaultMemoryRules: MemoryRules = { maxShareOfFree: 0.8, overheadBytes: 256 * 1024 ** 2 };

/** 2 × layers × KV heads × head size × tokens × bytes per element; 0 when the architecture is unknown. */
export function kvCacheBytes(model: CatalogModel, tokens: number): number {
  const a = model.architecture;
  if (!a?.layers || !a.embeddingSize || !a.heads) return 0;
  const headSize = a.embeddingSize / a.heads;
  return 2 * a.layers * (a.kvHeads ?? a.heads) * headSize * tokens * (a.kvBytesPerElement ?? 2);
}

/**
 * Bytes the model needs resident: file size + KV cache for its window + overhead (at least its
 * configured minimum). It does not depend on whether the model is loaded now, so comparisons
 * between models stay the same before and after a switch.
 */
export function estimateMemory(model: CatalogModel, rules: Pick<MemoryRules, 'overheadBytes'> = defaultMemoryRules): number {
  const weights = model.sizeBytes ?? 0;
  return Math.max(weights + kvCacheBytes(model, model.contextLength) + rules.overheadBytes, model.minMemoryBytes ?? 0);
}

/** What a loaded model gives back when it is unloaded. */
export function heldBytes(model: CatalogModel): number {
  return model.loaded ? (model.memoryBytes ?? model.sizeBytes ?? 0) : 0;
}

/** The most free VRAM on one GPU (0 when none is known). */
export function bestGpuFreeBytes(resources: ResourceSnapshot): number {
  return Math.max(0, ...resources.gpus.map((g) => g.vramFreeBytes ?? 0));
}

/**
 * Memory a new model may use: a share of free RAM plus the best GPU's free VRAM (llama.cpp
 * splits layers between them), plus what unloading `reclaimBytes` gives back. Null when free
 * memory is unknown.
 */
export function usableBytes(resources: ResourceSnapshot, reclaimBytes: number, rules: Pick<MemoryRules, 'maxShareOfFree'> = defaultMemoryRules): number | null {
  if (resources.memFreeBytes === null) return null;
  return (resources.memFreeBytes + bestGpuFreeBytes(resources) + reclaimBytes) * rules.maxShareOfFree;
}

/** Tier first, then size: how "heavy" a model is, for choosing a lighter one under pressure. */
const tierRank = { small: 0, medium: 1, large: 2 } as const;
export function lighter(a: CatalogModel, b: CatalogModel): boolean {
  const ta = tierRank[a.tier];
  const tb = tierRank[b.tier];
  if (ta !== tb) return ta < tb;
  return estimateMemory(a) < estimateMemory(b);
}

export function tierOf(model: CatalogModel): number {
  return tierRank[model.tier];
}
