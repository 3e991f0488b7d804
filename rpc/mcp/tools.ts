/**
 * The MCP tools Mai offers an agent — chat, models, status — each a thin layer over the Mai facade
 * (core/mai.ts), like the routes of rpc/handlers.ts. A tool pairs its descriptor (what tools/list
 * shows, JSON Schemas derived from zod) with its argument schema and its handler; a handler throws
 * MaiErrors and server.ts decides which become `isError` results and which JSON-RPC errors.
 */
import type { CancellationToken, MessageConnection } from 'vscode-jsonrpc/node';
import type { z } from 'zod';
import { ErrorCodes, MaiError } from '../../core/errors.ts';
import type { Logger } from '../../core/log.ts';
import type { Mai } from '../../core/mai.ts';
import type { TurnEvent } from '../../core/pipeline/turn.ts';
import { signalOf } from '../handlers.ts';
import type { ProgressToken } from '../mai-protocol.ts';
import { McpProgressNotification, type CallToolResult, type McpProgressParams, type McpTool } from './protocol.ts';
import { ChatToolInput, ChatToolOutput, chatToolOutput, ModelsToolInput, objectJsonSchema, StatusToolInput } from './tool-schemas.ts';

export interface ToolContext {
  token: CancellationToken;
  connection: MessageConnection;
  /** From the request's `_meta`: stream progress notifications carrying it. */
  progressToken: ProgressToken | undefined;
}

export interface MaiTool {
  readonly descriptor: McpTool;
  readonly input: z.ZodType;
  run(args: unknown, context: ToolContext): Promise<CallToolResult>;
}

interface ToolSpec<S extends z.ZodObject> {
  name: string;
  title: string;
  description: string;
  input: S;
  output?: z.ZodObject;
  annotations: NonNullable<McpTool['annotations']>;
  run(args: z.infer<S>, context: ToolContext): Promise<CallToolResult>;
}

/** Pairs a descriptor with its handler; the handler gets the argument schema's type. */
function defineTool<S extends z.ZodObject>(spec: ToolSpec<S>): MaiTool {
  return {
    descriptor: {
      name: spec.name,
      title: spec.title,
      description: spec.description,
      inputSchema: objectJsonSchema(spec.input, 'input'),
      ...(spec.output ? { outputSchema: objectJsonSchema(spec.output, 'output') } : {}),
      annotations: { title: spec.title, ...spec.annotations },
    },
    input: spec.input,
    run: (args, context) => spec.run(args as z.infer<S>, context),
  };
}

/** A report as a tool result: the object as structuredContent and, as MCP advises, its JSON as text. */
function reportResult(report: object): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(report) }], structuredContent: { ...report } };
}

/** What a turn's events look like as MCP progress: each delta is the message; a restart says so. */
function progressSender(connection: MessageConnection, progressToken: ProgressToken, log: Logger): (event: TurnEvent) => void {
  let progress = 0;
  return (event) => {
    progress++;
    const params: McpProgressParams =
      event.kind === 'delta'
        ? { progressToken, progress, message: event.text }
        : {
            progressToken,
            progress,
            message: `\n[Mai: ${event.model} answers instead; the text streamed so far is discarded]\n`,
            _meta: { 'mai/restart': { model: event.model } },
          };
    const failed = (error: unknown) => log.debug('could not send notifications/progress', error);
    try {
      connection.sendNotification(McpProgressNotification.type, params).catch(failed);
    } catch (error) {
      failed(error); // the connection is closed: the client left
    }
  };
}

export function maiTools(mai: Mai, log: Logger): MaiTool[] {
  return [
    defineTool({
      name: 'chat',
      title: 'Ask a local model',
      description:
        'Hands a self-contained sub-task or question to a local language model and returns its answer. Mai picks the best ' +
        'model that fits the machine now, falls back to the next one when a model fails, and keeps the conversation ' +
        '(pass conversationId back to continue it). With a progress token the answer streams as progress messages.',
      input: ChatToolInput,
      output: ChatToolOutput,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
      async run(args, { token, connection, progressToken }) {
        const abort = signalOf(token);
        const onEvent = progressToken === undefined ? undefined : progressSender(connection, progressToken, log);
        try {
          const result = await mai.chat(args, { signal: abort.signal, ...(onEvent ? { onEvent } : {}) });
          return { content: [{ type: 'text', text: result.text }], structuredContent: chatToolOutput(result) };
        } catch (error) {
          if (abort.signal.aborted) {
            throw new MaiError(ErrorCodes.cancelled, 'The chat was cancelled (notifications/cancelled); nothing of it was stored.', { cause: error, retryable: false });
          }
          throw error;
        } finally {
          abort.dispose();
        }
      },
    }),
    defineTool({
      name: 'models',
      title: 'List local models',
      description:
        'Lists the local models Mai knows, best first for a chat turn now: backend, whether loaded, context length, size, ' +
        'tier, whether it fits the machine now (and why not), scores, and which one is current or pinned.',
      input: ModelsToolInput,
      annotations: { readOnlyHint: true, openWorldHint: false },
      async run(args) {
        const report = await mai.models();
        return reportResult(args.availableOnly ? { ...report, models: report.models.filter((m) => m.fits) } : report);
      },
    }),
    defineTool({
      name: 'status',
      title: 'Mai status',
      description: 'What Mai is doing now: the current and pinned model, free memory and CPU load, which backends answer, turn and fallback counters.',
      input: StatusToolInput,
      annotations: { readOnlyHint: true, openWorldHint: false },
      async run() {
        // The first status of a fresh server lists the backends once, so reachability is known.
        await mai.models({ refresh: false });
        return reportResult(mai.status());
      },
    }),
  ];
}
