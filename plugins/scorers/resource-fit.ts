/**
 * resource-fit: vetoes a model whose estimated memory — file size + KV cache for its window
 * (2 × layers × KV heads × head size × tokens × bytes per element) + overhead — exceeds 80 % of
 * what is free, counting what unloading the current model would free; prefers the most capable
 * tier that fits. A model already loaded fits: its memory is already taken. A model on another
 * host (its backend's `host:`, or a non-loopback address) is never judged by this machine's memory.
 */
import { lazySchema, z } from '../../core/zod.ts';
import { definePlugin } from '../../core/plugin.ts';
import { bestGpuFreeBytes, estimateMemory, GiB, heldBytes, usableBytes, type MemoryRules } from '../../core/select/memory-estimate.ts';
import type { Score, ScoreInput } from '../../core/types.ts';

export const ResourceFitOptions = lazySchema(() =>
  z.strictObject({
    maxShareOfFree: z.number().min(0.05).max(1).default(0.8).describe('share of free memory a model may take'),
    overheadBytes: z.number().min(0).default(256 * 1024 ** 2).describe('runtime buffers beyond weights and KV cache'),
  }),
);
export type ResourceFitOptions = z.infer<typeof ResourceFitOptions>;

const tierScore = { small: 1 / 3, medium: 2 / 3, large: 1 } as const;
const gb = (bytes: number) => (bytes / GiB).toFixed(2);

export function scoreResourceFit(input: ScoreInput, options: MemoryRules): Score {
  const { model, resources } = input;
  const tier = tierScore[model.tier];
  // Served by another host: its server's load judges it (the load scorer), never this machine's memory.
  if (model.local === false) return { score: tier, reason: `on ${model.host ?? 'another host'}: judged by its server's load, not this machine's memory` };
  if (model.loaded) return { score: tier, reason: 'already loaded' };
  if (model.minVramBytes !== undefined && model.minVramBytes > 0) {
    const freeVram = bestGpuFreeBytes(resources);
    if (freeVram < model.minVramBytes) {
      return { score: 0, veto: `needs ${gb(model.minVramBytes)} GB of VRAM, ${gb(freeVram)} GB free` };
    }
  }
  // Unloading the current model (when it is another one, and loaded) gives back what it holds.
  const current = input.current === model.id ? undefined : input.catalog.find((m) => m.id === input.current);
  const reclaim = current ? heldBytes(current) : 0;
  const usable = usableBytes(resources, reclaim, options);
  if (usable === null) return { score: tier, reason: 'free memory unknown' };
  const needed = estimateMemory(model, options);
  const share = `${Math.round(options.maxShareOfFree * 100)} % of free${reclaim > 0 ? `, counting ${current!.id} unloaded` : ''}`;
  if (needed > usable) return { score: 0, veto: `needs ~${gb(needed)} GB, ${gb(usable)} GB usable (${share})` };
  return { score: tier, reason: `needs ~${gb(needed)} GB of ${gb(usable)} GB usable (${share})` };
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
