/**
 * Builds the prompt for one model within its budget: the window minus the reply's tokens minus a
 * margin. While the whole conversation stays under `compressAt` of the window it is sent as it is.
 * Past that, the oldest turns are replaced *in the prompt* by a summary (a cached one when its span
 * still fits, else a new one, sized to land well under the threshold so it is reused for a while),
 * the latest turns stay whole (at least `keepRecentTurns` when the budget allows), and the system
 * prompt and the user's standing instructions are always kept. The stored history is never touched.
 * When even the system prompt, the instructions and the new message cannot fit, it is a
 * context-overflow error (retryable: a model with a larger window can take the turn).
 */
import { ErrorCodes, MaiError } from '../errors.ts';
import type { BuiltPrompt, PromptCompression } from './transcript.ts';
import type { CatalogModel, ChatMessage } from '../types.ts';
import { permanentText } from './instructions.ts';
import type { StoredMessage } from './message.ts';
import type { CachedSummary } from './summary-cache.ts';
import { fitTokens, PER_MESSAGE_OVERHEAD } from './tokens.ts';
import { spanKeys, splitTurns, type TurnRange } from './turns.ts';

/** What the prompt builder asks a summariser for (summariser.ts answers it). */
export interface SpanRequest {
  conversationId: string;
  /** The conversation's messages (no system messages), its turns and span keys (see turns.ts). */
  messages: ReadonlyArray<StoredMessage>;
  turns: ReadonlyArray<TurnRange>;
  keys: ReadonlyArray<string>;
  /** Summarise the first k turns. */
  k: number;
  /** At most this many tokens, by the estimate. */
  maxTokens: number;
  /** The model the prompt is for (the last resort of the `model` strategy). */
  answering: CatalogModel;
  signal: AbortSignal;
}

export interface SpanSummary {
  text: string;
  /** The model that wrote it, or "digest". */
  by: string;
  cached: boolean;
}

/** What the prompt builder needs of a summariser (see summariser.ts). */
export interface SpanSummariser {
  cached(key: string, maxTokens: number): CachedSummary | undefined;
  summarise(request: SpanRequest): Promise<SpanSummary>;
}

export interface PromptInput {
  conversationId: string;
  /** The history, oldest first, ending with the new user message. */
  history: ReadonlyArray<StoredMessage>;
  model: CatalogModel;
  maxTokens: number;
  marginTokens: number;
  compressAt: number;
  keepRecentTurns: number;
  /** The most a summary may take. */
  summaryTokens: number;
  /** Counts one text's tokens for this model (its tokenizer, or the estimate). */
  count: (text: string) => Promise<number>;
  summariser: SpanSummariser;
  signal: AbortSignal;
}

/** A new summary aims this far under the compression threshold, so it serves several turns. */
const HEADROOM = 0.25;
/** A summary smaller than this is not worth writing. */
const MIN_SUMMARY_TOKENS = 24;
const INSTRUCTIONS_HEADER = 'Standing instructions from the user (they still apply):';
const SUMMARY_HEADER = 'Summary of the earlier conversation (those messages are left out here):';

export function budgetFor(contextLength: number, maxTokens: number, marginTokens: number): { budget: number; maxTokens: number } {
  // A reply may not take more than half the window, so a small model still gets a prompt.
  const reply = Math.max(1, Math.min(maxTokens, Math.floor(contextLength / 2)));
  return { budget: Math.max(0, contextLength - reply - marginTokens), maxTokens: reply };
}

/** The system message that opens a compressed prompt. */
export function preamble(system: string | undefined, instructions: readonly string[], summary: string | null): string | null {
  const parts: string[] = [];
  if (system) parts.push(system);
  if (instructions.length > 0) parts.push(`${INSTRUCTIONS_HEADER}\n${instructions.map((t) => `- ${t}`).join('\n')}`);
  if (summary) parts.push(`${SUMMARY_HEADER}\n${summary}`);
  return parts.length > 0 ? parts.join('\n\n') : null;
}

const chat = (m: StoredMessage): ChatMessage => ({ role: m.role, content: m.text });

export async function buildPrompt(input: PromptInput): Promise<BuiltPrompt> {
  const { model, count } = input;
  const window = model.contextLength;
  const { budget, maxTokens: reply } = budgetFor(window, input.maxTokens, input.marginTokens);
  const limit = Math.min(budget, Math.floor(input.compressAt * window));
  const system = input.history.findLast((m) => m.role === 'system');
  const conv = input.history.filter((m) => m.role !== 'system');
  const cost = async (text: string) => (await count(text)) + PER_MESSAGE_OVERHEAD;
  const costs: number[] = [];
  for (const m of conv) costs.push(await cost(m.text));
  const systemCost = system ? await cost(system.text) : 0;

  const finish = async (messages: ChatMessage[], compression?: PromptCompression): Promise<BuiltPrompt | null> => {
    let used = 0;
    for (const m of messages) used += await cost(m.content);
    if (used > budget) return null;
    return { messages, promptTokens: used, contextSize: window, maxTokens: reply, ...(compression ? { compression } : {}) };
  };
  const overflow = (needed: number) =>
    new MaiError(
      ErrorCodes.contextOverflow,
      `${model.id}'s window (${window} tokens) cannot hold this turn: the system prompt, the standing instructions and the new message take about ${needed} tokens, and ${reply} are kept for the answer. Shorten the message, or use a model with a larger window.`,
      { data: { model: model.id, contextLength: window, neededTokens: needed, budgetTokens: budget, replyTokens: reply } },
    );

  const whole = [...(system ? [chat(system)] : []), ...conv.map(chat)];
  const total = systemCost + costs.reduce((a, b) => a + b, 0);
  const turns = splitTurns(conv);
  const current = turns.length - 1;
  if (total <= limit || current < 1) {
    const built = await finish(whole);
    if (built) return built;
    if (current < 1) throw overflow(total);
  }

  // Cost of the preamble and the whole turns kept, when the first k turns are summarised.
  const liftedCost: number[] = [0];
  for (let t = 0; t < turns.length; t++) {
    let c = liftedCost[t]!;
    for (const m of conv.slice(turns[t]!.start, turns[t]!.end)) {
      const text = permanentText(m);
      if (text !== null) c += (await count(text)) + 2;
    }
    liftedCost.push(c);
  }
  const wholeFrom: number[] = [];
  for (let t = turns.length - 1, sum = 0; t >= 0; t--) {
    for (let i = turns[t]!.start; i < turns[t]!.end; i++) sum += costs[i]!;
    wholeFrom[t] = sum;
  }
  const headers = (await count(INSTRUCTIONS_HEADER)) + (await count(SUMMARY_HEADER)) + 8;
  const need = (k: number, summary: number) => PER_MESSAGE_OVERHEAD + systemCost + liftedCost[k]! + headers + wholeFrom[k]! + summary;

  const keys = spanKeys(conv, turns);
  const reserve = Math.min(input.summaryTokens, Math.floor(budget / 4));
  const soft = Math.floor(limit * (1 - HEADROOM));
  const kKeep = Math.max(1, current - input.keepRecentTurns);
  let k = 0;
  let cached: CachedSummary | undefined;
  // 1. A summary already written whose span still fits under the threshold.
  for (let j = 1; j <= kKeep && !cached; j++) {
    const hit = input.summariser.cached(keys[j]!, reserve);
    if (hit && need(j, hit.tokens) <= limit) [k, cached] = [j, hit];
  }
  // 2. Else summarise the fewest turns that bring the prompt well under the threshold, keeping the
  //    latest turns whole — fewer only when the budget itself demands it.
  if (!cached) {
    const first = (from: number, cap: number) => {
      for (let j = from; j <= current; j++) if (need(j, reserve) <= cap) return j;
      return current;
    };
    k = first(1, soft);
    if (k > kKeep || need(k, reserve) > soft) k = first(kKeep, budget);
    cached = input.summariser.cached(keys[k]!, Math.max(0, Math.min(reserve, budget - need(k, 0))));
  }

  let allowance = Math.min(reserve, budget - need(k, 0));
  let summary: SpanSummary | null = null;
  if (cached) summary = { text: cached.text, by: cached.by, cached: true };
  else if (allowance >= MIN_SUMMARY_TOKENS) {
    summary = await input.summariser.summarise({
      conversationId: input.conversationId,
      messages: conv,
      turns,
      keys,
      k,
      maxTokens: allowance,
      answering: model,
      signal: input.signal,
    });
  }

  const assemble = async (at: number, summaryText: string | null) => {
    const lifted = conv.slice(0, turns[at]!.start).flatMap((m) => permanentText(m) ?? []);
    const head = preamble(system?.text, lifted, summaryText);
    const kept = conv.slice(turns[at]!.start).map(chat);
    return finish([...(head === null ? [] : [{ role: 'system' as const, content: head }]), ...kept], {
      summarisedMessages: turns[at]!.start,
      keptMessages: kept.length,
      summaryBy: summaryText ? (summary?.by ?? null) : null,
      cachedSummary: summaryText ? (summary?.cached ?? false) : false,
      instructionsKept: lifted.length,
    });
  };
  // Counted exactly now: trim the summary if the parts added up to more than their estimates.
  let text = summary?.text ?? null;
  for (let tries = 0; tries < 4; tries++) {
    const built = await assemble(k, text);
    if (built) return built;
    if (!text) break;
    allowance = Math.floor(allowance * 0.75);
    text = allowance >= MIN_SUMMARY_TOKENS ? fitTokens(text, allowance) : null;
  }
  const last = await assemble(current, null);
  if (last) return last;
  throw overflow(need(current, 0));
}
