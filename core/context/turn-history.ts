/**
 * The history a turn starts from: the stored conversation (when the request names one) followed by
 * this turn's new messages — the system prompt when it is new or changed, then the user message,
 * marked when it holds a standing instruction — and what the turn needs of a model's window.
 */
import type { ContextConfig } from '../config/schema.ts';
import type { TurnRequest } from '../turn-request.ts';
import type { TurnNeeds } from '../types.ts';
import type { ConversationStore } from './conversation-store.ts';
import { markInstructions, permanentText } from './instructions.ts';
import type { StoredMessage } from './message.ts';
import { estimateTokens, PER_MESSAGE_OVERHEAD } from './tokens.ts';

export interface TurnHistory {
  conversationId: string;
  history: StoredMessage[];
  /** How many messages at the end of `history` are new (stored when the turn succeeds). */
  added: number;
  needs: TurnNeeds;
  /** Problems met reading the stored conversation (a torn record after a crash). */
  warnings: string[];
}

/** Tokens the preamble's headings and bullets add when instructions are lifted into it. */
const PREAMBLE_OVERHEAD = 40;

export async function prepareTurnHistory(store: ConversationStore, request: TurnRequest, config: ContextConfig): Promise<TurnHistory> {
  const conversationId = request.conversationId ?? store.newId();
  const conversation = request.conversationId ? await store.load(conversationId) : null;
  const now = new Date().toISOString();
  const history: StoredMessage[] = [...(conversation?.messages ?? [])];
  const added: StoredMessage[] = [];
  const lastSystem = history.findLast((m) => m.role === 'system');
  if (request.system && request.system !== lastSystem?.text) {
    added.push({ role: 'system', text: request.system, at: now, permanent: true });
  }
  added.push(markInstructions({ role: 'user', text: request.message, at: now }));
  history.push(...added);
  return {
    conversationId,
    history,
    added: added.length,
    needs: {
      capabilities: request.capabilities ?? ['chat'],
      ...promptNeeds(history),
      replyTokens: request.maxTokens ?? config.replyTokens,
    },
    warnings: conversation?.warnings ?? [],
  };
}

/**
 * Tokens (by the estimate) the prompt needs at the least — the active system prompt, every standing
 * instruction and the latest message — and for the whole conversation uncompressed.
 */
export function promptNeeds(history: ReadonlyArray<StoredMessage>): { minPromptTokens: number; fullPromptTokens: number } {
  const cost = (text: string) => estimateTokens(text) + PER_MESSAGE_OVERHEAD;
  const system = history.findLast((m) => m.role === 'system');
  const conv = history.filter((m) => m.role !== 'system');
  const latest = conv.at(-1);
  let min = (system ? cost(system.text) : 0) + (latest ? cost(latest.text) : 0);
  let instructions = 0;
  for (const m of conv.slice(0, -1)) {
    const text = permanentText(m);
    if (text !== null) {
      min += estimateTokens(text) + 2;
      instructions++;
    }
  }
  if (instructions > 0) min += PREAMBLE_OVERHEAD;
  const full = (system ? cost(system.text) : 0) + conv.reduce((sum, m) => sum + cost(m.text), 0);
  return { minPromptTokens: min, fullPromptTokens: full };
}
