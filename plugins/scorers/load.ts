/**
 * load: judges a model by the load its servers report (llama.cpp slots, vLLM / SGLang queues) and
 * the turns Mai has sent them: an idle server scores 1, a full one 0; a model whose every healthy
 * server queues more than `maxQueue` turns of its own is vetoed (saturated), so its turns go
 * elsewhere. A model of unknown load (a server that reports nothing, or figures gone stale)
 * scores the middle, neither preferred nor vetoed.
 */
import { lazySchema, z } from '../../core/zod.ts';
import type { ReplicaLoad } from '../../core/load/replica-router.ts';
import { definePlugin } from '../../core/plugin.ts';
import type { Score } from '../../core/types.ts';

export const LoadScorerOptions = lazySchema(() =>
  z.strictObject({
    maxQueue: z.number().int().min(0).default(4).describe("turns waiting at a server (its own queue) beyond which it is saturated"),
    unknown: z.number().min(0).max(1).default(0.5).describe('the score of a model whose load is unknown'),
  }),
);
export type LoadScorerOptions = z.infer<typeof LoadScorerOptions>;

const describe = (r: ReplicaLoad) =>
  `${r.backend}${r.host === 'local' ? '' : ` on ${r.host}`}: ${r.busy}/${r.slots} busy${r.waiting ? `, ${r.waiting} waiting` : ''}${r.kvUsage === null ? '' : `, KV ${Math.round(r.kvUsage * 100)} %`}`;

export function scoreLoad(replicas: readonly ReplicaLoad[], options: LoadScorerOptions): Score {
  const healthy = replicas.filter((r) => !r.cooling);
  const pool = healthy.length > 0 ? healthy : replicas;
  const known = pool.filter((r) => r.known);
  if (known.length === 0) return { score: options.unknown, reason: 'load unknown (its server reports none, or the figures are stale)' };
  const open = known.filter((r) => (r.waiting ?? 0) <= options.maxQueue);
  if (open.length === 0 && known.length === pool.length) {
    return { score: 0, veto: `saturated: ${known.map(describe).join('; ')} (over load.maxQueue ${options.maxQueue})` };
  }
  const best = (open.length > 0 ? open : known).reduce((a, b) => (b.busy / b.slots < a.busy / a.slots ? b : a));
  return { score: Math.max(0, 1 - best.busy / best.slots), reason: describe(best) };
}

export default definePlugin({
  kind: 'scorer',
  name: 'load',
  description: "Prefers idle servers; vetoes a model whose servers queue more than maxQueue turns.",
  options: LoadScorerOptions,
  create(options, context) {
    const view = context.load;
    return {
      name: 'load',
      score(input) {
        if (!view) return { score: options.unknown, reason: 'load unknown' };
        return scoreLoad(view.loads(input.model, input.now), options);
      },
    };
  },
});
