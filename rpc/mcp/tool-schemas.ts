/**
 * The zod schemas of the MCP tools' arguments and of chat's structured result — the single source
 * of truth: the server validates arguments with them, tools/list shows the JSON Schemas derived
 * from them (z.toJSONSchema), and the TypeScript types are inferred. The argument rules are the
 * ones of Mai's own protocol (rpc/mai-protocol.ts), reused and described for the agent's model.
 */
import { z } from '../../core/zod.ts';
import type { TurnResult } from '../../core/pipeline/turn.ts';
import { FINISH_REASONS } from '../../core/types.ts';
import { ChatSendParams, ModelsListParams } from '../mai-protocol.ts';
import type { ObjectJsonSchema } from './protocol.ts';

const chat = ChatSendParams.unwrap().shape;

export const ChatToolInput = z.strictObject({
  message: chat.message.describe(
    'The sub-task or question for the local model, self-contained (the model sees only this conversation, not yours).',
  ),
  conversationId: chat.conversationId.describe(
    'Continue an earlier conversation: the conversationId of a previous chat result. Leave it out to start a new one.',
  ),
  model: chat.model.describe('Answer with this model id (the models tool lists them). Leave it out to let Mai pick the best model that fits now.'),
  maxTokens: chat.maxTokens.describe('The most tokens the answer may have.'),
});
export type ChatToolInput = z.infer<typeof ChatToolInput>;

export const ChatToolOutput = z.object({
  text: z.string().describe('The answer.'),
  model: z.string().describe('The model that answered.'),
  conversationId: z.string().describe('Pass it back as conversationId to continue this conversation.'),
  finishReason: z.enum(FINISH_REASONS).describe('"length": the answer hit maxTokens or the window.'),
  usage: z.object({ promptTokens: z.number().int().nonnegative(), completionTokens: z.number().int().nonnegative() }),
  attempts: z
    .array(z.object({ model: z.string(), error: z.object({ code: z.string(), message: z.string() }).optional() }))
    .describe('Every model tried, in order; the ones that failed say why (Mai fell back to the next).'),
  latencyMs: z.number(),
}) satisfies z.ZodType<TurnResult>;
export type ChatToolOutput = z.infer<typeof ChatToolOutput>;

/** chat's structured result: exactly the fields of the outputSchema (the compiler checks them against core's TurnResult). */
export function chatToolOutput(result: TurnResult): ChatToolOutput {
  return {
    text: result.text,
    model: result.model,
    conversationId: result.conversationId,
    finishReason: result.finishReason,
    usage: { promptTokens: result.usage.promptTokens, completionTokens: result.usage.completionTokens },
    attempts: result.attempts.map((a) => (a.error ? { model: a.model, error: { code: a.error.code, message: a.error.message } } : { model: a.model })),
    latencyMs: result.latencyMs,
  };
}

export const ModelsToolInput = z.strictObject({
  availableOnly: ModelsListParams.unwrap().shape.availableOnly.describe('Only the models that fit the machine now.'),
});
export type ModelsToolInput = z.infer<typeof ModelsToolInput>;

export const StatusToolInput = z.strictObject({});
export type StatusToolInput = z.infer<typeof StatusToolInput>;

/**
 * The JSON Schema of a zod object schema, as tools/list shows it. Draft-07, the dialect the MCP
 * SDKs validate with by default; `input` for arguments (what a client may send), `output` for
 * structured results (what Mai returns).
 */
export function objectJsonSchema(schema: z.ZodObject, io: 'input' | 'output'): ObjectJsonSchema {
  const json = z.toJSONSchema(schema, { target: 'draft-7', io }) as Record<string, unknown>;
  if (json.type !== 'object') throw new Error(`a tool schema must describe an object, got ${JSON.stringify(json.type)}`);
  return json as ObjectJsonSchema;
}
