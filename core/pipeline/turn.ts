/**
 * The one typed object every stage of a turn shares. Each stage fills in its part:
 * monitor → `resources`, select → `ranking`/`model`, fallback → `plan`, context → `transcript`,
 * infer → `result`. See the README's Architecture section for the path the data takes.
 */
import type { StoredMessage } from '../context/message.ts';
import type { Transcript } from '../context/transcript.ts';
import type { AttemptPlan } from '../fallback/attempt-plan.ts';
import type { RankedModel } from '../select/ranking.ts';
import type { TurnRequest } from '../turn-request.ts';
import type { CatalogModel, FinishReason, ResourceSnapshot, TurnNeeds, Usage } from '../types.ts';

export type { TurnRequest };

/** What the client is told while the turn runs. */
export type TurnEvent = { kind: 'delta'; text: string; model: string } | { kind: 'restart'; model: string };

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
  plan?: AttemptPlan;
  transcript?: Transcript;
  attempts: AttemptRecord[];
  /** True once any delta reached the client (a later switch must then say `restart`). */
  streamed: boolean;
  result?: TurnResult;
}
