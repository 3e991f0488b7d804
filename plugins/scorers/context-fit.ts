/** context-fit: vetoes a model whose window cannot hold the budgeted conversation; prefers room to spare. */
import { lazySchema, z } from '../../core/zod.ts';
import { definePlugin } from '../../core/plugin.ts';

export const ContextFitOptions = lazySchema(() => z.strictObject({ marginTokens: z.number().int().min(0).default(32) }));

export default definePlugin({
  kind: 'scorer',
  name: 'context-fit',
  description: 'Vetoes models whose context window cannot hold the conversation.',
  options: ContextFitOptions,
  create(options) {
    return {
      name: 'context-fit',
      score({ model, needs }) {
        const reply = Math.min(needs.replyTokens, Math.floor(model.contextLength / 2));
        const room = model.contextLength - reply - options.marginTokens;
        if (room < needs.minPromptTokens) {
          return { score: 0, veto: `window ${model.contextLength} cannot hold the ${needs.minPromptTokens} tokens this turn needs at the least` };
        }
        const score = needs.fullPromptTokens === 0 ? 1 : Math.min(1, room / needs.fullPromptTokens);
        return { score, reason: score < 1 ? 'older turns will be compressed' : 'the whole conversation fits' };
      },
    };
  },
});
