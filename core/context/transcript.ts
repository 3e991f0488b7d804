/** What the context stage hands infer: the conversation as a transcript, and the prompt it builds for one model. */
import type { CatalogModel, ChatMessage, FinishReason, Usage } from '../types.ts';

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
  /** The turn is over: lets go of what was prepared for storing it (a new conversation's file) if `commit` did not use it. */
  release(): void;
}
