/**
 * The one typed object every stage of a turn shares. Each stage fills in its part:
 * monitor → `resources`, select → `ranking`/`model`, fallback → `plan`, context → `transcript`,
 * infer → `result`. See the README's Architecture section for the path the data takes.
 */
import type { Capability } from '../config/schema.ts';
import type { StoredMessage } from '../context/message.ts';
import type { MaiError } from '../errors.ts';
import type { CatalogModel, ChatMessage, FinishReason, ResourceSnapshot, TurnNeeds, Usage } from '../types.ts';

export interface TurnRequest {
  message: string;
  conversationId?: string;
  system?: string;
  /** Use this model for this turn (like a pin, for one turn). */
  model?: string;
  maxTokens?: number;
  temperature?: number;
  capabilities?: Capability[];
}

/** What the client is told while the turn runs. */
export type TurnEvent = { kind: 'delta'; text: string } | { kind: 'restart'; model: string };

export interface AttemptRecord {
  model: string;
  error?: { code: string; message: string };
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

/** One candidate as select saw it: its score and, if vetoed, why. */
export interface RankedModel {
  model: CatalogModel;
  score: number;
  fits: boolean;
  vetoes: string[];
  reasons: string[];
  scores: Record<string, number>;
}

/** One step of the attempt plan: which model, after how long a wait. */
export interface AttemptStep {
  model: CatalogModel;
  delayMs: number;
  /** Same model again after a transient error. */
  retry: boolean;
}

/** The fallback stage's policy, handed to infer: the first step, then the next one after each failure. */
export interface AttemptPlan {
  first(): AttemptStep | null;
  next(failed: CatalogModel, error: MaiError): AttemptStep | null;
}

/** The prompt built for one model, within its budget. */
export interface BuiltPrompt {
  messages: ChatMessage[];
  promptTokens: number;
  /** The context window to ask the backend for. */
  contextSize: number;
  maxTokens: number;
  /** Set when older turns were left out of this prompt (the stored history keeps them). */
  compression?: PromptCompression;
}

/** How a prompt was compressed to fit its model's window. */
export interface PromptCompression {
  /** Older messages replaced by the summary. */
  summarisedMessages: number;
  /** Latest messages sent whole. */
  keptMessages: number;
  /** Who wrote the summary: a model id, "digest", or null when there was no room for one. */
  summaryBy: string | null;
  cachedSummary: boolean;
  /** Standing instructions from the left-out messages, kept in the preamble. */
  instructionsKept: number;
}

/** The conversation as the context stage prepared it for this turn. */
export interface Transcript {
  readonly conversationId: string;
  /** The same history, budgeted to this model's window. */
  prompt(model: CatalogModel, signal: AbortSignal): Promise<BuiltPrompt>;
  /** Stores the finished answer durably. */
  commit(reply: { text: string; model: string; usage: Usage; finishReason: FinishReason }): Promise<void>;
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
