/**
 * The stats file's line: of one ledger line, only what `mai stats` reads, as a compact JSON array
 * (about a tenth of the ledger line, so 100,000 turns are read and parsed in a fraction of the time).
 *
 *   [t, ledgerBytes, outcome, model, [[model, backend, ok, error, queueMs, ttftMs, tokensPerSecond] …],
 *    [[from, to] …], switched, up, down]
 *
 * `t` comes first, then the byte length of the ledger line it stands for (its newline included):
 * a reader skips lines outside its window on those two numbers without parsing the line, and
 * trusts a stats file only when these lengths add up to its ledger file's size — so a stats file
 * that is missing lines, torn or corrupt is noticed, and the ledger itself is read instead.
 */
import type { AttemptSummary, TurnOutcome } from '../observe/turn-summary.ts';
import type { LedgerRecord } from './record.ts';

/** What `mai stats` needs of a turn: a ledger line, or a stats line decoded. */
export type StatsInput = Pick<LedgerRecord, 't' | 'outcome' | 'model' | 'attempts' | 'fallbacks' | 'up' | 'down'> & { switch: unknown };

type Attempt = [string, string, 0 | 1, string | null, number | null, number | null, number | null];

export function statsLine(r: LedgerRecord, ledgerBytes: number): string {
  const attempts: Attempt[] = r.attempts.map((a) => [a.model, a.backend, a.ok ? 1 : 0, a.error ?? null, a.queueMs ?? null, a.ttftMs ?? null, a.tokensPerSecond ?? null]);
  return JSON.stringify([r.t, ledgerBytes, r.outcome, r.model, attempts, r.fallbacks.map((f) => [f.from, f.to]), r.switch ? 1 : 0, r.up, r.down]);
}

const OUTCOMES = new Set<unknown>(['ok', 'failed', 'cancelled']);
const isString = (x: unknown): x is string => typeof x === 'string';
const isNumberOrNull = (x: unknown): x is number | null => x === null || typeof x === 'number';
const strings = (x: unknown): string[] => {
  if (!Array.isArray(x) || !x.every(isString)) throw new Error('not a list of names');
  return x;
};

function attempt(x: unknown): AttemptSummary {
  if (!Array.isArray(x) || x.length !== 7) throw new Error('not an attempt');
  const [model, backend, ok, error, queueMs, ttftMs, tokensPerSecond] = x as unknown[];
  if (!isString(model) || !isString(backend) || (ok !== 0 && ok !== 1) || !(error === null || isString(error))) throw new Error('not an attempt');
  if (!isNumberOrNull(queueMs) || !isNumberOrNull(ttftMs) || !isNumberOrNull(tokensPerSecond)) throw new Error('not an attempt');
  const a: AttemptSummary = { model, backend, ok: ok === 1 };
  if (error !== null) a.error = error;
  if (queueMs !== null) a.queueMs = queueMs;
  if (ttftMs !== null) a.ttftMs = ttftMs;
  if (tokensPerSecond !== null) a.tokensPerSecond = tokensPerSecond;
  return a;
}

/** A stats line's JSON back into what stats reads; throws on anything that is not one. */
export function parseStatsLine(text: string): StatsInput {
  const x: unknown = JSON.parse(text);
  if (!Array.isArray(x) || x.length !== 9) throw new Error('not a stats line');
  const [t, , outcome, model, attempts, fallbacks, switched, up, down] = x as unknown[];
  if (typeof t !== 'number' || !OUTCOMES.has(outcome) || !(model === null || isString(model)) || !Array.isArray(attempts) || !Array.isArray(fallbacks)) {
    throw new Error('not a stats line');
  }
  return {
    t,
    outcome: outcome as TurnOutcome,
    model,
    attempts: attempts.map(attempt),
    fallbacks: fallbacks.map((f: unknown) => {
      const [from, to] = strings(f);
      if (from === undefined || to === undefined) throw new Error('not a fallback');
      return { from, to };
    }),
    switch: switched === 1,
    up: strings(up),
    down: strings(down),
  };
}
