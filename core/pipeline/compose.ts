/**
 * The onion: composes middleware so that each one runs its work before and/or after `await next()`.
 * Guards as in koa-compose: a non-function is rejected when the pipeline is built, and calling
 * `next()` twice from the same middleware throws.
 */
export type Next = () => Promise<void>;
export type Middleware<T> = (context: T, next: Next) => Promise<void> | void;

export function compose<T>(middleware: ReadonlyArray<Middleware<T>>): (context: T, last?: Next) => Promise<void> {
  if (!Array.isArray(middleware)) throw new TypeError('compose: the middleware must be an array');
  for (const [index, fn] of middleware.entries()) {
    if (typeof fn !== 'function') throw new TypeError(`compose: middleware #${index} is ${typeof fn}, not a function`);
  }
  const stack = [...middleware];
  return function runPipeline(context: T, last?: Next): Promise<void> {
    let called = -1;
    const dispatch = (i: number): Promise<void> => {
      if (i <= called) return Promise.reject(new Error(`next() called twice by middleware "${stack[i - 1]?.name || i - 1}"`));
      called = i;
      const fn = i === stack.length ? last : stack[i];
      if (!fn) return Promise.resolve();
      try {
        return Promise.resolve(fn(context, () => dispatch(i + 1)));
      } catch (error) {
        return Promise.reject(error);
      }
    };
    return dispatch(0);
  };
}
