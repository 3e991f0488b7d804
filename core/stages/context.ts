/**
 * context — works before next(): it hands infer a transcript that budgets the same history to
 * whichever model is tried (so a switch to a smaller window keeps the instructions) and commits
 * the finished turn durably. Nothing is written for a turn that fails or is cancelled.
 */
import type { ContextConfig } from '../config/schema.ts';
import { buildPrompt } from '../context/budget.ts';
import type { ConversationStore } from '../context/conversation-store.ts';
import type { Middleware } from '../pipeline/compose.ts';
import type { TurnContext } from '../pipeline/turn.ts';
import type { Backend, CatalogModel } from '../types.ts';

export interface ContextStageOptions {
  store: ConversationStore;
  config: ContextConfig;
  backendOf: (model: CatalogModel) => Backend;
}

export function contextStage(options: ContextStageOptions): Middleware<TurnContext> {
  const { store, config } = options;
  return async function context(turn, next) {
    turn.transcript = {
      conversationId: turn.conversationId,
      async prompt(model) {
        return buildPrompt({
          history: turn.history,
          contextLength: model.contextLength,
          maxTokens: turn.request.maxTokens ?? config.replyTokens,
          marginTokens: config.marginTokens,
        });
      },
      async commit(reply) {
        const added = turn.history.slice(turn.history.length - turn.added);
        await store.append(turn.conversationId, [
          ...added,
          { role: 'assistant', text: reply.text, at: new Date().toISOString(), model: reply.model },
        ]);
      },
    };
    await next();
  };
}
