/** latency: a moving average of time-to-first-token and tokens/s per model; faster scores higher. */
import { lazySchema, z } from '../../core/zod.ts';
import { definePlugin } from '../../core/plugin.ts';

export const LatencyOptions = lazySchema(() =>
  z.strictObject({
    smoothing: z.number().min(0).max(1).default(0.3),
    /** Time to first token that scores 0.5. */
    referenceTtftMs: z.number().positive().default(1_000),
    /** Tokens per second that score 0.5. */
    referenceTokensPerSecond: z.number().positive().default(20),
  }),
);

export default definePlugin({
  kind: 'scorer',
  name: 'latency',
  description: 'Prefers models that answered faster recently.',
  options: LatencyOptions,
  create(options) {
    const stats = new Map<string, { ttft: number; tps: number }>();
    return {
      name: 'latency',
      observe(event) {
        if (!event.ok || event.timeToFirstTokenMs === undefined) return;
        const tps = event.tokensPerSecond ?? 0;
        const prev = stats.get(event.model);
        const a = options.smoothing;
        stats.set(event.model, prev ? { ttft: a * event.timeToFirstTokenMs + (1 - a) * prev.ttft, tps: a * tps + (1 - a) * prev.tps } : { ttft: event.timeToFirstTokenMs, tps });
      },
      score({ model }) {
        const s = stats.get(model.id);
        if (!s) return { score: 0.5, reason: 'not measured yet' };
        const ttftScore = options.referenceTtftMs / (options.referenceTtftMs + s.ttft);
        const tpsScore = s.tps / (s.tps + options.referenceTokensPerSecond);
        return { score: (ttftScore + tpsScore) / 2, reason: `~${Math.round(s.ttft)} ms to first token, ~${s.tps.toFixed(1)} tok/s` };
      },
    };
  },
});
