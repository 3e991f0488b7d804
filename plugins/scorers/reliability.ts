/** reliability: recent failures lower the score; a model cooling down after repeated failures is vetoed. */
import { lazySchema, z } from '../../core/zod.ts';
import { definePlugin } from '../../core/plugin.ts';

export default definePlugin({
  kind: 'scorer',
  name: 'reliability',
  description: 'Lowers the score of models that failed recently; vetoes models cooling down.',
  options: lazySchema(() => z.strictObject({ failuresToZero: z.number().int().positive().default(3) })),
  create(options, context) {
    return {
      name: 'reliability',
      score({ model, now }) {
        if (context.cooldowns.coolingDown(model.id, now)) return { score: 0, veto: `cooling down after repeated failures until ${context.cooldowns.snapshot(now)[model.id]}` };
        const failures = context.cooldowns.recentFailures(model.id, now);
        return { score: Math.max(0, 1 - failures / options.failuresToZero), reason: failures ? `${failures} recent failure(s)` : 'no recent failures' };
      },
    };
  },
});
