/**
 * One line of the ledger: what a finished, failed or cancelled turn was — which model was chosen
 * and why, every attempt, the waits and speeds, the prompt's size against the window, fallbacks
 * and the switch. `t` comes first so a reader can skip lines outside its window without parsing
 * them. The conversation's text is written only when the config opts in (ledger.content).
 */
import type { AttemptSummary, TurnOutcome, TurnSummary } from '../observe/turn-summary.ts';
import { clientOf } from '../observe/turn-summary.ts';

export const LEDGER_VERSION = 1;

export interface LedgerRankEntry {
  model: string;
  score: number;
  fits: boolean;
  /** Each scorer's score. */
  scores: Record<string, number>;
  vetoes?: string[];
}

export interface LedgerRecord {
  /** When the turn started, epoch ms (first key: readers filter on it without parsing the line). */
  t: number;
  v: number;
  // What `mai stats` reads comes first, up to `turn` (STATS_END): the reader parses only that part.
  outcome: TurnOutcome;
  /** The model that answered (null when none did). */
  model: string | null;
  attempts: AttemptSummary[];
  fallbacks: Array<{ from: string; to: string }>;
  switch: { from: string; to: string } | null;
  /** Backends reachable and not, as the catalogue knew when the line was made (within a second of the turn's end: the observer's batch). */
  up: string[];
  down: string[];
  turn: string;
  /** The same instant as `t`, for people. */
  at: string;
  client?: string;
  conversation: string;
  error?: { code: string; message: string };
  chosen: { model: string; backend: string; reason: string } | null;
  /** The top of the ranking select saw (at most RANKING_KEPT entries). */
  ranking: LedgerRankEntry[];
  /** The whole turn: queue waits, model loads, first token, total. */
  queueMs: number;
  loadMs: number;
  ttftMs: number | null;
  ms: number;
  tokens: { in: number; out: number } | null;
  tokensPerSecond: number | null;
  /** Prompt tokens against the model's window. */
  context: { used: number; window: number } | null;
  compressed: { summarised: number; kept: number; by: string | null; cached: boolean } | null;
  /** Only with ledger.content: the user's message, the system prompt and the answer. */
  message?: string;
  system?: string;
  answer?: string;
}

/** Where the part of a line `mai stats` reads ends (a key no nested object has, so its first occurrence is the top-level one). */
export const STATS_END = ',"turn":';

const RANKING_KEPT = 3;

const round = (n: number, places = 2) => {
  const f = 10 ** places;
  return Math.round(n * f) / f;
};

function roundAttempt(a: AttemptSummary): AttemptSummary {
  const out: AttemptSummary = { model: a.model, backend: a.backend, ok: a.ok };
  if (a.error !== undefined) out.error = a.error;
  if (a.queueMs !== undefined) out.queueMs = round(a.queueMs);
  if (a.loadMs !== undefined) out.loadMs = round(a.loadMs);
  if (a.ttftMs !== undefined) out.ttftMs = round(a.ttftMs);
  if (a.ms !== undefined) out.ms = round(a.ms);
  if (a.tokensPerSecond !== undefined) out.tokensPerSecond = round(a.tokensPerSecond);
  return out;
}

export interface RecordOptions {
  content: boolean;
  backends: ReadonlyArray<{ name: string; reachable: boolean }>;
}

export function ledgerRecord(s: TurnSummary, options: RecordOptions): LedgerRecord {
  const turn = s.turn;
  const result = turn.result;
  const answering = s.attempts.findLast((a) => a.ok);
  const compression = s.prompt?.prompt.compression;
  const client = clientOf(turn.request);
  const record: LedgerRecord = {
    t: s.startedAt,
    v: LEDGER_VERSION,
    outcome: s.outcome,
    model: s.answeredBy,
    attempts: s.attempts.map(roundAttempt),
    fallbacks: s.fallbacks,
    switch: s.switched,
    up: options.backends.filter((b) => b.reachable).map((b) => b.name),
    down: options.backends.filter((b) => !b.reachable).map((b) => b.name),
    turn: turn.id,
    at: new Date(s.startedAt).toISOString(),
    ...(client ? { client } : {}),
    conversation: turn.conversationId,
    ...(s.error ? { error: { code: s.error.code, message: s.error.message } } : {}),
    chosen: s.chosen ? { model: s.chosen.model.id, backend: s.chosen.model.backend, reason: s.chosen.reason } : null,
    ranking: (turn.ranking ?? []).slice(0, RANKING_KEPT).map((r) => ({
      model: r.model.id,
      score: round(r.score, 3),
      fits: r.fits,
      scores: Object.fromEntries(Object.entries(r.scores).map(([k, v]) => [k, round(v, 3)])),
      ...(r.vetoes.length ? { vetoes: r.vetoes } : {}),
    })),
    queueMs: round(s.attempts.reduce((n, a) => n + (a.queueMs ?? 0), 0)),
    loadMs: round(s.attempts.reduce((n, a) => n + (a.loadMs ?? 0), 0)),
    ttftMs: answering?.ttftMs === undefined ? null : round(answering.ttftMs),
    ms: round(s.durationMs),
    tokens: result ? { in: result.usage.promptTokens, out: result.usage.completionTokens } : null,
    tokensPerSecond: answering?.tokensPerSecond === undefined ? null : round(answering.tokensPerSecond),
    context: s.prompt ? { used: s.prompt.prompt.promptTokens, window: s.prompt.model.contextLength } : null,
    compressed: compression
      ? { summarised: compression.summarisedMessages, kept: compression.keptMessages, by: compression.summaryBy, cached: compression.cachedSummary }
      : null,
  };
  if (options.content) {
    record.message = turn.request.message;
    if (turn.request.system !== undefined) record.system = turn.request.system;
    if (result) record.answer = result.text;
  }
  return record;
}
