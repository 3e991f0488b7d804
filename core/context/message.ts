/** A message as the conversation store keeps it. */
import type { Role } from '../types.ts';

export interface StoredMessage {
  role: Role;
  text: string;
  /** ISO time it was written. */
  at: string;
  /** The model that wrote it (assistant messages). */
  model?: string;
  /** Token count by the tokenizer that counted it, keyed by model id or "estimate". */
  tokens?: Record<string, number>;
  /** Kept in every prompt: the system prompt, explicit standing instructions. */
  permanent?: boolean;
}

export interface Conversation {
  id: string;
  messages: StoredMessage[];
  createdAt: string;
  updatedAt: string;
  /** Problems found while reading (a torn last record after a crash), reported, never fatal. */
  warnings: string[];
}

export interface ConversationSummary {
  id: string;
  messages: number;
  createdAt: string;
  updatedAt: string;
  title: string;
}
