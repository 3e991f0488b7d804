/**
 * zod as Mai uses it: every module that builds a schema imports `z` from here, so the setting below
 * is made before the first schema exists (zod reads it as each object schema is built).
 *
 * jitless: by default zod generates a parser for each object schema the first time it parses one
 * (source text compiled with `new Function`), which pays for a schema parsed thousands of times.
 * Mai parses most of its schemas once or a few times per process — the config, each plugin's
 * options, initialize — and generating those parsers was ~15–20 ms of every start's CPU; a `mai
 * batch` of 1,000 prompts (a chat/send parse per turn) measured no slower without them. The
 * results are the same either way: jitless only chooses zod's other path to them.
 */
import { z } from 'zod';

z.config({ jitless: true });

export { z };

/**
 * A schema built on its first use rather than when its module loads: many of the schemas a `mai`
 * launch used to build it never uses — one launch answers `initialize` and a turn, one config names
 * a few plugins and leaves `models:` out — and a `mai serve` launch built ~600 zod schemas where it
 * now builds ~360. (What stays is mostly zod's first-use cost of each kind of schema, paid once
 * whichever module builds first.) The lazy schema parses, fails and infers exactly as the one `build`
 * returns (zod's own `z.lazy`, which hands each parse to it); `.unwrap()` gives that schema, built once.
 */
export function lazySchema<T extends z.ZodType>(build: () => T): z.ZodLazy<T> {
  let built: T | undefined;
  return z.lazy(() => (built ??= build()));
}
