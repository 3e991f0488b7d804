/** A message as the conversation store keeps it, and what reading a conversation gives back. */
import type { Role } from '../types.ts';

export interface StoredMessage {
  role: Role;
  text: string;
  /** ISO time it was written. */
  at: string;
  /** The model that wrote it (assistant messages). */
  model?: string;
  /** Token count by the tokenizer that counted it: a model id (its backend's tokenizer) or "estimate". */
  tokens?: Record<string, number>;
  /** Kept in every prompt: the system prompt, a short message that is a standing instruction. */
  permanent?: boolean;
  /**
   * The standing instruction inside a longer message ("…and always answer in French."): kept in
   * every prompt in place of the whole message once that message is compressed away.
   */
  instruction?: string;
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
  /** Set when the file cannot be read safely (it is listed, never hidden or changed). */
  error?: string;
}
