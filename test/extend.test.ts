/** core/extend.ts: what `{ ...base, ...extra }` makes, without touching either. */
import { describe, expect, it } from 'vitest';
import { extend } from '../core/extend.ts';

describe('extend', () => {
  it("copies base's own properties, then extra's (the later wins), into a new object", () => {
    const base = { a: 1, b: 2 };
    const extra = { b: 3, c: 4 };
    const made = extend(base, extra);
    expect(made).toEqual({ ...base, ...extra });
    expect(Object.keys(made)).toEqual(['a', 'b', 'c']);
    expect(base).toEqual({ a: 1, b: 2 });
    expect(made).not.toBe(base);
    const inherited = Object.create({ hidden: true }) as Record<string, unknown>;
    inherited.own = 1;
    expect(extend(inherited, {})).toEqual({ own: 1 });
  });
});
