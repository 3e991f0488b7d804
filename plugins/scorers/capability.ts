/** capability: vetoes a model that lacks what the turn needs (chat, code, reasoning, vision, tools). */
import { lazySchema, z } from '../../core/zod.ts';
import { definePlugin } from '../../core/plugin.ts';

export default definePlugin({
  kind: 'scorer',
  name: 'capability',
  description: 'Vetoes models that lack a capability the turn needs.',
  options: lazySchema(() => z.strictObject({})),
  create() {
    return {
      name: 'capability',
      score({ model, needs }) {
        const missing = needs.capabilities.filter((c) => !model.capabilities.includes(c));
        if (missing.length > 0) return { score: 0, veto: `lacks ${missing.join(', ')}` };
        const extra = model.capabilities.length - needs.capabilities.length;
        return { score: Math.min(1, 0.5 + extra * 0.125), reason: `has ${model.capabilities.join(', ')}` };
      },
    };
  },
});
