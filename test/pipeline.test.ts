import { describe, expect, it } from 'vitest';
import { compose, type Middleware } from '../core/pipeline/compose.ts';

describe('compose (the onion)', () => {
  it('runs the before parts outer to inner and the after parts inner to outer', async () => {
    const trace: string[] = [];
    const stage = (name: string): Middleware<string[]> =>
      async function named(_ctx, next) {
        trace.push(`${name}:before`);
        await next();
        trace.push(`${name}:after`);
      };
    await compose(['monitor', 'select', 'infer', 'fallback', 'context'].map(stage))([]);
    expect(trace).toEqual([
      'monitor:before', 'select:before', 'infer:before', 'fallback:before', 'context:before',
      'context:after', 'fallback:after', 'infer:after', 'select:after', 'monitor:after',
    ]);
  });

  it('lets a stage short-circuit: the stages inside it never run', async () => {
    const trace: string[] = [];
    await compose<string[]>([
      async (_c, next) => { trace.push('a'); await next(); },
      async () => { trace.push('b (stops here)'); },
      async (_c, next) => { trace.push('c'); await next(); },
    ])([]);
    expect(trace).toEqual(['a', 'b (stops here)']);
  });

  it('rejects a non-function when the pipeline is built', () => {
    expect(() => compose([async () => {}, 'select' as unknown as Middleware<unknown>])).toThrow(/middleware #1 is string/);
  });

  it('throws when a stage calls next() twice, naming the stage', async () => {
    const run = compose<object>([
      async function greedy(_c, next) {
        await next();
        await next();
      },
    ]);
    await expect(run({})).rejects.toThrow(/next\(\) called twice by middleware "greedy"/);
  });

  it('propagates an inner error to the outer stages', async () => {
    const seen: unknown[] = [];
    const run = compose<object>([
      async (_c, next) => { try { await next(); } catch (e) { seen.push(e); throw e; } },
      async () => { throw new Error('inner'); },
    ]);
    await expect(run({})).rejects.toThrow('inner');
    expect(seen).toHaveLength(1);
  });
});
