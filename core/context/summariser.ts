/**
 * Writes the summary that replaces older turns in a prompt, by the configured strategy:
 * `auto` — the smallest free loaded model writes it, else the rule-based digest; `model` — the
 * smallest free loaded model, else the model answering the turn; `digest` — never a model.
 * "Free" means loaded, not cooling down after failures, not failing a summary lately, and not
 * already writing another one. A model summary is bounded in time; on any failure the digest is
 * used. Model summaries are cached by span and built incrementally: a longer span starts from the
 * summary of the longest span already summarised, and input too large for the summarising model's
 * window is fed to it in pieces.
 */
import { budgetFor, type SpanRequest, type SpanSummary } from './budget.ts';
import type { ContextConfig } from '../config/schema.ts';
import { deadline } from '../deadline.ts';
import { digest } from './digest.ts';
import { MaiError, ErrorCodes } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { StoredMessage } from './message.ts';
import type { SummaryCache, CachedSummary } from './summary-cache.ts';
import type { TokenCounter } from './token-counter.ts';
import { estimateTokens, fitTokens, PER_MESSAGE_OVERHEAD } from './tokens.ts';
import type { Backend, CatalogModel, ChatMessage } from '../types.ts';

export interface SummariserOptions {
  strategy: ContextConfig['summary'];
  timeoutMs: number;
  marginTokens: number;
  models: () => readonly CatalogModel[];
  backendOf: (model: CatalogModel) => Backend;
  coolingDown?: (model: string) => boolean;
  cache: SummaryCache;
  counter: TokenCounter;
  log?: Logger;
}

const INSTRUCTIONS = (words: number) =>
  `You condense a conversation so it can go on without its earlier messages. Keep what matters: facts the user stated ` +
  `(names, numbers, decisions, preferences, constraints), what was asked and the conclusions reached, code identifiers ` +
  `and file names, anything still open. Drop greetings and filler. Write short plain sentences, in the conversation's ` +
  `language, at most ${words} words. Write only the summary.`;
const FAILURE_PAUSE_MS = 60_000;
const tierRank = { small: 0, medium: 1, large: 2 } as const;

function transcriptLine(m: StoredMessage): string {
  return `${m.role === 'user' ? 'User' : 'Assistant'}: ${m.text}`;
}

export class Summariser {
  private readonly writing = new Set<string>();
  private readonly failedAt = new Map<string, number>();

  constructor(private readonly options: SummariserOptions) {}

  cached(key: string, maxTokens: number): CachedSummary | undefined {
    return this.options.strategy === 'digest' ? undefined : this.options.cache.get(key, maxTokens);
  }

  async summarise(request: SpanRequest): Promise<SpanSummary> {
    const span = request.messages.slice(0, request.turns[request.k - 1]?.end ?? 0);
    const model = this.options.strategy === 'digest' ? null : this.pickModel(request);
    if (model) {
      this.writing.add(model.id);
      try {
        const text = await this.byModel(model, request);
        await this.options.cache.put(request.conversationId, { key: request.keys[request.k]!, text, tokens: estimateTokens(text), by: model.id });
        return { text, by: model.id, cached: false };
      } catch (error) {
        if (request.signal.aborted) throw error;
        this.failedAt.set(model.id, Date.now());
        this.options.log?.warn(`${model.id} could not summarise the earlier turns (${(error as Error).message}); using the digest`);
      } finally {
        this.writing.delete(model.id);
      }
    }
    return { text: digest(span, request.maxTokens), by: 'digest', cached: false };
  }

  /** The smallest free loaded model whose window can hold a summary, per the strategy. */
  private pickModel(request: SpanRequest): CatalogModel | null {
    const now = Date.now();
    const usable = (m: CatalogModel) =>
      m.capabilities.includes('chat') &&
      m.contextLength >= request.maxTokens * 3 + 256 &&
      !(this.options.coolingDown?.(m.id) ?? false) &&
      now - (this.failedAt.get(m.id) ?? 0) > FAILURE_PAUSE_MS;
    const free = this.options
      .models()
      .filter((m) => m.loaded && usable(m) && !this.writing.has(m.id))
      .sort(
        (a, b) =>
          (a.sizeBytes ?? Number.MAX_SAFE_INTEGER) - (b.sizeBytes ?? Number.MAX_SAFE_INTEGER) ||
          tierRank[a.tier] - tierRank[b.tier] ||
          a.contextLength - b.contextLength ||
          a.id.localeCompare(b.id),
      );
    if (free[0]) return free[0];
    if (this.options.strategy === 'model' && usable(request.answering)) return request.answering;
    return null;
  }

  /** The summary by `model`, within the time limit (on any failure the caller uses the digest). */
  private async byModel(model: CatalogModel, request: SpanRequest): Promise<string> {
    const limit = deadline(this.options.timeoutMs, request.signal);
    try {
      return await this.writeSummary(model, request, limit.signal);
    } finally {
      limit.clear();
    }
  }

  private async writeSummary(model: CatalogModel, request: SpanRequest, signal: AbortSignal): Promise<string> {
    const { turns, keys, k, maxTokens } = request;
    const counter = this.options.counter.for(model, signal);
    // Start from the longest span already summarised.
    let previous = '';
    let from = 0;
    for (let j = k - 1; j > 0; j--) {
      const hit = this.options.cache.get(keys[j]!, maxTokens);
      if (hit) {
        previous = hit.text;
        from = turns[j - 1]!.end;
        break;
      }
    }
    const pending = request.messages.slice(from, turns[k - 1]!.end).map(transcriptLine);
    const words = Math.max(20, Math.floor(maxTokens * 0.6));
    const system = INSTRUCTIONS(words);
    const { budget, maxTokens: reply } = budgetFor(model.contextLength, maxTokens, this.options.marginTokens);
    while (pending.length > 0) {
      const fixed = (await counter.count(system)) + (await counter.count(previous)) + 3 * PER_MESSAGE_OVERHEAD + 32;
      const room = budget - fixed;
      if (room < 64) throw new MaiError(ErrorCodes.contextOverflow, `${model.id}'s window is too small to summarise in.`);
      const piece: string[] = [];
      let used = 0;
      while (pending.length > 0) {
        let line = pending[0]!;
        let cost = (await counter.count(line)) + 1;
        if (piece.length === 0 && cost > room) {
          // One message larger than the room: keep its start and end.
          const keep = Math.floor((line.length * room) / cost / 2) - 8;
          line = `${line.slice(0, keep)} […] ${line.slice(-keep)}`;
          cost = (await counter.count(line)) + 1;
        }
        if (used + cost > room) break;
        piece.push(line);
        pending.shift();
        used += cost;
      }
      const user = `${previous ? `Summary so far:\n${previous}\n\n` : ''}Conversation${previous ? ' since then' : ''}:\n${piece.join('\n')}`;
      previous = await this.ask(model, [{ role: 'system', content: system }, { role: 'user', content: user }], reply, signal);
    }
    return fitTokens(previous, maxTokens);
  }

  private async ask(model: CatalogModel, messages: ChatMessage[], maxTokens: number, signal: AbortSignal): Promise<string> {
    let text = '';
    let done = false;
    for await (const chunk of this.options.backendOf(model).chat({ model: model.backendModelId, messages, maxTokens, contextSize: model.contextLength, signal })) {
      if (chunk.type === 'delta') text += chunk.text;
      else done = true;
    }
    if (!done || text.trim() === '') throw new MaiError(ErrorCodes.emptyReply, `${model.id} wrote no summary.`);
    return text.trim();
  }
}
