/**
 * Standing instructions: what a user asks for the rest of the conversation ("always answer in
 * French", "from now on, use metric units", "never use emoji"). They must survive any compression,
 * so the context stage keeps them in every prompt. A heuristic over English phrasing: an imperative
 * "always"/"never" at the start of a sentence (or after "please", "you should", "make sure to"…),
 * or an explicit scope ("from now on", "for the rest of this conversation", "in every answer").
 * "Why is the sky always blue?" or "Never mind" are not instructions.
 */
import type { StoredMessage } from './message.ts';
import { extend } from '../extend.ts';

/** An explicit scope makes any sentence a standing instruction. */
const SCOPE =
  /\b(from now on|going forward|until I say otherwise|for the rest of (this|our|the) (conversation|chat|session)|in (all|every|each) (of )?(your )?(future |later )?(answers?|repl(y|ies)|responses?|messages?)|(don't|do not) ever)\b/i;
/** "always"/"never" where an imperative stands: sentence start, or after a polite or obligation lead-in. */
const IMPERATIVE =
  /(^|[.!?;:,]\s*|\b(please|you|you should|you must|you will|you shall|make sure to|make sure you|be sure to|remember to|I want you to|I'd like you to|I need you to|do)\s+)(always|never)\s+([A-Za-z'-]+)/i;
/** Words after "always"/"never" that show it is not an instruction ("never mind", "always the same"). */
const NOT_A_VERB = new Set([
  'mind', 'the', 'a', 'an', 'this', 'that', 'these', 'those', 'same', 'been', 'was', 'were', 'is', 'are', 'had', 'has',
  'have', 'did', 'does', 'do', 'i', 'it', 'my', 'our', 'there', 'here', 'again', 'before', 'ever', 'seems', 'seem',
  'works', 'worked', 'happens', 'happened', 'gets', 'got', 'fails', 'failed', 'returns', 'returned',
]);

/** Up to this many characters, a message that holds a standing instruction is kept whole. */
export const WHOLE_INSTRUCTION_CHARS = 280;
/** The most of a longer message kept as its instruction. */
const MAX_INSTRUCTION_CHARS = 600;

function sentences(text: string): string[] {
  return text
    .split(/(?<=[.!?])\s+|\n+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function isInstructionSentence(sentence: string): boolean {
  if (SCOPE.test(sentence)) return true;
  const match = IMPERATIVE.exec(sentence);
  if (!match) return false;
  const next = match[4]?.toLowerCase() ?? '';
  return !NOT_A_VERB.has(next);
}

/** The standing-instruction sentences in `text`, joined; null when there are none. */
export function standingInstructions(text: string): string | null {
  const found = sentences(text).filter(isInstructionSentence);
  if (found.length === 0) return null;
  const joined = found.join(' ');
  return joined.length > MAX_INSTRUCTION_CHARS ? `${joined.slice(0, MAX_INSTRUCTION_CHARS - 1)}…` : joined;
}

/**
 * Marks a user message: a short standing instruction is permanent as a whole; a longer message
 * keeps its instruction sentences as `instruction`.
 */
export function markInstructions(message: StoredMessage): StoredMessage {
  if (message.role !== 'user' || message.permanent) return message;
  const instruction = standingInstructions(message.text);
  if (instruction === null) return message;
  if (message.text.length <= WHOLE_INSTRUCTION_CHARS) return extend(message, { permanent: true });
  return extend(message, { instruction });
}

/** The text that must stay in every prompt for this message, if any. */
export function permanentText(message: StoredMessage): string | null {
  if (message.permanent) return message.text;
  return message.instruction ?? null;
}
