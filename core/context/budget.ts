/**
 * Builds the prompt for one model within its budget: the window minus the reply's tokens minus a
 * margin. Permanent messages always, the latest turns whole, older turns dropped (or, with
 * compression, replaced by a digest) — the stored history is never touched.
 */
import type { BuiltPrompt } from '../pipeline/turn.ts';
import type { ChatMessage } from '../types.ts';
import type { StoredMessage } from './message.ts';
import { estimateTokens, PER_MESSAGE_OVERHEAD } from './tokens.ts';

export interface BudgetInput {
  /** The history, oldest first, ending with the new user message. */
  history: ReadonlyArray<StoredMessage>;
  contextLength: number;
  maxTokens: number;
  marginTokens: number;
  /** Counts one message's tokens (a real tokenizer when the backend has one). */
  count?: (text: string) => number;
}

export function budgetFor(contextLength: number, maxTokens: number, marginTokens: number): { budget: number; maxTokens: number } {
  // A reply may not take more than half the window, so a small model still gets a prompt.
  const reply = Math.max(1, Math.min(maxTokens, Math.floor(contextLength / 2)));
  return { budget: Math.max(0, contextLength - reply - marginTokens), maxTokens: reply };
}

export function buildPrompt(input: BudgetInput): BuiltPrompt {
  const count = input.count ?? estimateTokens;
  const cost = (m: StoredMessage) => count(m.text) + PER_MESSAGE_OVERHEAD;
  const { budget, maxTokens } = budgetFor(input.contextLength, input.maxTokens, input.marginTokens);
  const history = input.history;
  const lastIndex = history.length - 1;
  const keep = new Set<number>();
  let used = 0;
  // Permanent messages and the latest user message, always.
  history.forEach((m, i) => {
    if (m.permanent || i === lastIndex) {
      keep.add(i);
      used += cost(m);
    }
  });
  // Then the most recent turns, whole, while they fit.
  for (let i = lastIndex - 1; i >= 0; i--) {
    if (keep.has(i)) continue;
    const c = cost(history[i]!);
    if (used + c > budget) break;
    keep.add(i);
    used += c;
  }
  const messages: ChatMessage[] = history
    .map((m, i) => ({ m, i }))
    .filter(({ i }) => keep.has(i))
    .map(({ m }) => ({ role: m.role, content: m.text }));
  return { messages, promptTokens: used, contextSize: input.contextLength, maxTokens };
}
