/**
 * context — works before next(): it hands infer a transcript that budgets the same history to
 * whichever model is tried (so a switch to a smaller window keeps the system prompt and the user's
 * standing instructions, and compresses older turns as that window needs), and commits the finished
 * turn durably, each message with its token counts. Nothing is written for a turn that fails or is
 * cancelled.
 */
import type { ContextConfig } from '../config/schema.ts';
import { buildPrompt } from '../context/budget.ts';
import type { ConversationStore } from '../context/conversation-store.ts';
import type { StoredMessage } from '../context/message.ts';
import { SummaryCache } from '../context/summary-cache.ts';
import { Summariser } from '../context/summariser.ts';
import { ESTIMATE, TokenCounter } from '../context/token-counter.ts';
import { estimateTokens } from '../context/tokens.ts';
import type { Logger } from '../log.ts';
import type { Middleware } from '../pipeline/compose.ts';
import type { TurnContext } from '../pipeline/turn.ts';
import type { BuiltPrompt } from '../context/transcript.ts';
import type { Backend, CatalogModel } from '../types.ts';
import { extend } from '../extend.ts';

export interface ContextStageOptions {
  store: ConversationStore;
  config: ContextConfig;
  backendOf: (model: CatalogModel) => Backend;
  /** The catalogue's models: the summariser picks the smallest loaded one. */
  models?: () => readonly CatalogModel[];
  /** Models cooling down after failures write no summaries. */
  coolingDown?: (model: string) => boolean;
  log?: Logger;
}

export function contextStage(options: ContextStageOptions): Middleware<TurnContext> {
  const { store, config, backendOf, log } = options;
  const counter = new TokenCounter({ backendOf, ...(log ? { log } : {}) });
  const cache = new SummaryCache({ fileOf: (id) => store.summaryFile(id), isNew: (id) => store.isNew(id), ...(log ? { log } : {}) });
  const summariser = new Summariser({
    strategy: config.summary,
    timeoutMs: config.summaryTimeoutMs,
    marginTokens: config.marginTokens,
    models: options.models ?? (() => []),
    backendOf,
    ...(options.coolingDown ? { coolingDown: options.coolingDown } : {}),
    cache,
    counter,
    ...(log ? { log } : {}),
  });

  /** The message with its token counts: always the estimate, and the model's own count when it has a tokenizer. */
  async function counted(message: StoredMessage, model: CatalogModel | undefined): Promise<StoredMessage> {
    const tokens: Record<string, number> = extend(message.tokens ?? {}, { [ESTIMATE]: estimateTokens(message.text) });
    if (model) {
      const c = counter.for(model);
      try {
        const n = await c.count(message.text);
        if (c.tokenizer !== ESTIMATE) tokens[c.tokenizer] = n;
      } catch {
        // counting is best effort here; the estimate is stored
      }
    }
    return extend(message, { tokens });
  }

  return async function context(turn, next) {
    const tried = new Map<string, { model: CatalogModel; prompt: BuiltPrompt }>();
    // A new conversation's file is created while the model answers, so storing the answer is one write.
    let reserved = store.reserve(turn.conversationId);
    const release = () => {
      if (reserved) store.discard(reserved);
      reserved = null;
    };
    turn.transcript = {
      conversationId: turn.conversationId,
      async prompt(model, signal) {
        await cache.load(turn.conversationId);
        // Counts stored with the messages by this model's tokenizer need not be asked for again.
        for (const m of turn.history) {
          const known = m.tokens?.[model.id];
          if (known !== undefined) counter.seed(model, m.text, known);
        }
        const prompt = await buildPrompt({
          conversationId: turn.conversationId,
          history: turn.history,
          model,
          maxTokens: turn.request.maxTokens ?? config.replyTokens,
          marginTokens: config.marginTokens,
          compressAt: config.compressAt,
          keepRecentTurns: config.keepRecentTurns,
          summaryTokens: config.summaryTokens,
          count: counter.for(model, signal).count,
          summariser,
          signal,
        });
        tried.set(model.id, { model, prompt });
        turn.observe?.({ kind: 'prompt', model, prompt });
        if (prompt.compression) {
          const c = prompt.compression;
          log?.debug(
            `${model.id}: ${c.summarisedMessages} older message(s) ${c.summaryBy ? `summarised by ${c.summaryBy}${c.cachedSummary ? ' (cached)' : ''}` : 'left out'}, ${c.keptMessages} kept whole, ${prompt.promptTokens} tokens`,
          );
        }
        return prompt;
      },
      async commit(reply) {
        const attempt = tried.get(reply.model);
        const added = turn.history.slice(turn.history.length - turn.added);
        const messages: StoredMessage[] = [];
        for (const m of added) messages.push(await counted(m, attempt?.model));
        messages.push(await counted({ role: 'assistant', text: reply.text, at: new Date().toISOString(), model: reply.model }, attempt?.model));
        const file = reserved;
        reserved = null;
        await store.append(turn.conversationId, messages, file);
        if (attempt && reply.usage.promptTokens > 0) counter.observe(attempt.model, attempt.prompt.promptTokens, reply.usage.promptTokens);
      },
      release,
    };
    try {
      await next();
    } catch (error) {
      release();
      throw error;
    }
  };
}
