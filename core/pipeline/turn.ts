/**
 * The one typed object every stage of a turn shares. Each stage fills in its part:
 * monitor → `resources`, select → `ranking`/`model`, fallback → `plan`, context → `transcript`,
 * infer → `result`. See the README's Architecture section for the path the data takes.
 */
import type { StoredMessage } from '../context/message.ts';
import type { BuiltPrompt, Transcript } from '../context/transcript.ts';
import type { AttemptPlan } from '../fallback/attempt-plan.ts';
import type { RankedModel } from '../select/ranking.ts';
import type { TurnRequest } from '../turn-request.ts';
import type { AttemptEvent, CatalogModel, FinishReason, ResourceSnapshot, TurnNeeds, Usage } from '../types.ts';

export type { TurnRequest };

/** What the client is told while the turn runs. */
export type TurnEvent = { kind: 'delta'; text: string; model: string } | { kind: 'restart'; model: string };

/**
 * What a stage learns about the turn as it runs, told to `TurnContext.observe` for whoever watches
 * turns (the ledger, the metrics: core/observe/). Stages only say what happened; they never know who listens.
 */
export type TurnFact =
  /** select: the model chosen and why; `previous` is the current model before this turn. */
  | { kind: 'chosen'; model: CatalogModel; reason: string; previous: string | null }
  /** infer: the attempt on `model` got its place in the model's queue after `waitMs`. */
  | { kind: 'queued'; model: CatalogModel; waitMs: number }
  /** infer: `model` had to be loaded first, which took `loadMs`. */
  | { kind: 'loaded'; model: CatalogModel; loadMs: number }
  /** context: the prompt built for `model` (its size, window and compression). */
  | { kind: 'prompt'; model: CatalogModel; prompt: BuiltPrompt }
  /** infer: an attempt ended (the same event scorers learn from). */
  | { kind: 'attempt'; model: CatalogModel; event: AttemptEvent };

export interface AttemptRecord {
  model: string;
  /** Why it failed; absent (or undefined, as zod's schemas of it say) when it answered. */
  error?: { code: string; message: string } | undefined;
}

export interface TurnResult {
  conversationId: string;
  text: string;
  model: string;
  finishReason: FinishReason;
  usage: Usage;
  attempts: AttemptRecord[];
  latencyMs: number;
}

export interface TurnContext {
  readonly id: string;
  readonly request: TurnRequest;
  readonly signal: AbortSignal;
  readonly startedAt: number;
  /** Streams an event to the client (no-op when it did not ask for progress). */
  emit(event: TurnEvent): void;
  /** Told each fact a stage learns (unset when nobody watches turns). */
  observe?: ((fact: TurnFact) => void) | undefined;
  /** The conversation's id (a new one when the request named none). */
  conversationId: string;
  /** The stored history followed by this turn's new messages (system prompt if new, user message). */
  history: StoredMessage[];
  /** How many messages at the end of `history` this turn adds (stored on commit). */
  added: number;
  /** What the turn needs of a model; known once the conversation is loaded. */
  needs: TurnNeeds;
  resources?: ResourceSnapshot;
  ranking?: RankedModel[];
  model?: CatalogModel;
  /** select: the server of the pinned model that the pin or the turn's `model: "id@backend"` names, tried first while it is not cooling. */
  replica?: { model: string; backend: string };
  plan?: AttemptPlan;
  transcript?: Transcript;
  attempts: AttemptRecord[];
  /** True once any delta reached the client (a later switch must then say `restart`). */
  streamed: boolean;
  result?: TurnResult;
}
