/**
 * One turn, told after it ended: the facts its stages reported (core/pipeline/turn.ts TurnFact),
 * folded into what the ledger writes and the metrics count — the attempts with their queue wait,
 * load time, first token and speed, the fallbacks between them, the switch, the prompt's size.
 */
import { ErrorCodes, MaiError } from '../errors.ts';
import type { BuiltPrompt } from '../context/transcript.ts';
import type { TurnContext, TurnFact, TurnRequest } from '../pipeline/turn.ts';
import type { CatalogModel } from '../types.ts';

export type TurnOutcome = 'ok' | 'failed' | 'cancelled';

export interface AttemptSummary {
  model: string;
  backend: string;
  ok: boolean;
  /** The error's code when the attempt failed (`cancelled` for the one the cancel cut short). */
  error?: string;
  queueMs?: number;
  loadMs?: number;
  ttftMs?: number;
  ms?: number;
  tokensPerSecond?: number;
}

export interface TurnSummary {
  readonly turn: TurnContext;
  readonly outcome: TurnOutcome;
  readonly error: MaiError | undefined;
  /** Epoch ms the turn started and how long it took, to its end (result or error). */
  readonly startedAt: number;
  readonly durationMs: number;
  readonly chosen: { model: CatalogModel; reason: string; previous: string | null } | undefined;
  readonly attempts: AttemptSummary[];
  /** The model that answered (ok turns), else null. */
  readonly answeredBy: string | null;
  /** Each move to another model within the turn, in order. */
  readonly fallbacks: Array<{ from: string; to: string }>;
  /** The current model changed with this turn (null when it stayed, and at the first turn, which is no switch). */
  readonly switched: { from: string; to: string } | null;
  /** The prompt built for the model that answered (or the last one tried). */
  readonly prompt: { model: CatalogModel; prompt: BuiltPrompt } | undefined;
}

/** The client that sent the turn (set by the shared host; absent for a private Mai). */
export function clientOf(request: TurnRequest): string | undefined {
  return 'client' in request && typeof request.client === 'string' && request.client !== '' ? request.client : undefined;
}

export function outcomeOf(turn: TurnContext, error: unknown): { outcome: TurnOutcome; error: MaiError | undefined } {
  if (error === undefined) return { outcome: turn.result ? 'ok' : 'failed', error: undefined };
  const failure = MaiError.from(error);
  const cancelled = failure.code === ErrorCodes.cancelled || turn.signal.aborted;
  return { outcome: cancelled ? 'cancelled' : 'failed', error: failure };
}

/** Folds a finished turn's facts into its summary. */
export function summarise(turn: TurnContext, facts: readonly TurnFact[], endedAt: number, error: unknown): TurnSummary {
  const { outcome, error: failure } = outcomeOf(turn, error);
  const attempts: AttemptSummary[] = [];
  const prompts = new Map<string, { model: CatalogModel; prompt: BuiltPrompt }>();
  let chosen: TurnSummary['chosen'];
  let open: AttemptSummary | undefined;
  const start = (model: CatalogModel): AttemptSummary => {
    open = { model: model.id, backend: model.backend, ok: false };
    return open;
  };
  for (const fact of facts) {
    switch (fact.kind) {
      case 'chosen':
        chosen = { model: fact.model, reason: fact.reason, previous: fact.previous };
        break;
      case 'queued':
        start(fact.model).queueMs = fact.waitMs;
        break;
      case 'loaded':
        (open?.model === fact.model.id ? open : start(fact.model)).loadMs = fact.loadMs;
        break;
      case 'prompt':
        prompts.set(fact.model.id, { model: fact.model, prompt: fact.prompt });
        break;
      case 'attempt': {
        const a = open?.model === fact.model.id ? open : start(fact.model);
        const e = fact.event;
        a.ok = e.ok;
        if (!e.ok) a.error = e.error?.code ?? ErrorCodes.internal;
        if (e.timeToFirstTokenMs !== undefined) a.ttftMs = e.timeToFirstTokenMs;
        if (e.durationMs !== undefined) a.ms = e.durationMs;
        if (e.tokensPerSecond !== undefined) a.tokensPerSecond = e.tokensPerSecond;
        attempts.push(a);
        open = undefined;
        break;
      }
    }
  }
  // The attempt the turn ended in the middle of (cancelled, or an error that is not retried).
  if (open && outcome !== 'ok') {
    const cut: AttemptSummary = open;
    cut.error = failure?.code ?? ErrorCodes.internal;
    attempts.push(cut);
  } else if (attempts.length === 0 && outcome === 'cancelled' && chosen) {
    attempts.push({ model: chosen.model.id, backend: chosen.model.backend, ok: false, error: ErrorCodes.cancelled });
  }
  const fallbacks: Array<{ from: string; to: string }> = [];
  for (let i = 1; i < attempts.length; i++) {
    const from = attempts[i - 1]!.model;
    const to = attempts[i]!.model;
    if (from !== to) fallbacks.push({ from, to });
  }
  const answeredBy = outcome === 'ok' ? (turn.result?.model ?? null) : null;
  const previous = chosen?.previous ?? null;
  const last = attempts.at(-1);
  return {
    turn,
    outcome,
    error: failure,
    startedAt: turn.startedAt,
    durationMs: Math.max(0, endedAt - turn.startedAt),
    chosen,
    attempts,
    answeredBy,
    fallbacks,
    switched: answeredBy && previous !== answeredBy ? (previous === null ? null : { from: previous, to: answeredBy }) : null,
    prompt: prompts.get(answeredBy ?? last?.model ?? '') ?? undefined,
  };
}
