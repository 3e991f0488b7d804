/**
 * Token counting without a tokenizer: a fast estimate with a safety margin, used when the backend
 * cannot count. Its error against a real tokenizer is measured in test/context-tokens.test.ts.
 */
import { Buffer } from 'node:buffer';
import type { ChatMessage } from '../types.ts';

/** Tokens a chat template adds around each message (role markers, separators). */
export const PER_MESSAGE_OVERHEAD = 4;
/** Characters per token the estimate assumes; lower than the usual ~4 for English, to be safe. */
const CHARS_PER_TOKEN = 3;

export function estimateTokens(text: string): number {
  if (text.length === 0) return 0;
  // Bytes rather than UTF-16 units: byte-level tokenizers spend more on non-ASCII text.
  const bytes = Buffer.byteLength(text, 'utf8');
  return Math.ceil(bytes / CHARS_PER_TOKEN);
}

export function estimateMessages(messages: ReadonlyArray<ChatMessage>): number {
  let total = 0;
  for (const m of messages) total += estimateTokens(m.content) + PER_MESSAGE_OVERHEAD;
  return total;
}
