/**
 * Mai's JSON-RPC protocol: every method declared once, as a typed constant (the way
 * vscode-languageserver-protocol does it), with one object parameter per method.
 * The params are zod schemas — the single source of truth: the server validates with them and
 * the TypeScript types are inferred from them. Results are core's facade types.
 * Clients import these from `rpc/index.ts`: `client.sendRequest(ChatSendRequest.type, {...})`.
 */
import { NotificationType, ParameterStructures, ProgressType, RequestType } from 'vscode-jsonrpc/node';
import { z } from 'zod';
import type { Conversation, ConversationSummary } from '../core/context/message.ts';
import type { ModelsReport, StatusReport } from '../core/mai.ts';
import type { TurnEvent, TurnResult } from '../core/pipeline/turn.ts';
import type { RpcErrorData } from './errors.ts';

/** One request of the protocol: its method name, its params schema, and the vscode-jsonrpc type. */
export interface RequestDefinition<M extends string, S extends z.ZodType, R> {
  readonly method: M;
  readonly params: S;
  readonly type: RequestType<z.infer<S>, R, RpcErrorData>;
}

/** Declares a request once; `R` is the result type (curried so the method and schema are inferred). */
export function defineRequest<R>() {
  return <const M extends string, S extends z.ZodType>(method: M, params: S): RequestDefinition<M, S, R> => ({
    method,
    params,
    type: new RequestType<z.infer<S>, R, RpcErrorData>(method, ParameterStructures.byName),
  });
}

/** Params of a method that takes none: an empty object (or nothing at all on the wire). */
const NoParams = z.strictObject({});
export type NoParams = z.infer<typeof NoParams>;

// ---- lifecycle ---------------------------------------------------------------------------------

/** Loose on purpose: LSP-style clients send more (processId, rootUri, locale…), which Mai ignores. */
export const InitializeParams = z.looseObject({
  clientInfo: z.looseObject({ name: z.string(), version: z.string().optional() }).optional(),
  capabilities: z.record(z.string(), z.unknown()).optional(),
});
export type InitializeParams = z.infer<typeof InitializeParams>;

export interface InitializeResult {
  serverInfo: { name: 'mai'; version: string };
  capabilities: {
    /** Every request method the server answers. */
    methods: string[];
    /** chat/send streams `$/progress` when given a progressToken. */
    progress: boolean;
    /** `$/cancelRequest` aborts a turn. */
    cancellation: boolean;
    /** Arrays of requests are answered with an array. */
    batch: boolean;
    framings: Array<'content-length' | 'ndjson'>;
  };
}

export const InitializeRequest = defineRequest<InitializeResult>()('initialize', InitializeParams);
/** After `shutdown` the server answers only `exit`; `exit` then ends it with code 0 (1 without shutdown). */
export const ShutdownRequest = defineRequest<null>()('shutdown', NoParams);
export const ExitNotification = { method: 'exit', type: new NotificationType<void>('exit') } as const;

// ---- chat ----------------------------------------------------------------------------------------

export const ProgressToken = z.union([z.string(), z.number()]);
export type ProgressToken = z.infer<typeof ProgressToken>;

export const ChatSendParams = z.strictObject({
  message: z.string().min(1, 'the message is empty: send the text to answer in "message"'),
  conversationId: z.string().min(1).optional(),
  system: z.string().optional(),
  /** Answer this turn with this model (like a pin, for one turn). */
  model: z.string().min(1).optional(),
  maxTokens: z.number().int().positive().optional(),
  temperature: z.number().min(0).max(2).optional(),
  /** With a token, the answer streams as `$/progress` notifications carrying it. */
  progressToken: ProgressToken.optional(),
});
export type ChatSendParams = z.infer<typeof ChatSendParams>;
export type ChatSendResult = TurnResult;
export const ChatSendRequest = defineRequest<ChatSendResult>()('chat/send', ChatSendParams);

/** What `$/progress` carries for chat/send: a piece of text, or `restart` (discard what came so far). */
export type ChatProgress = TurnEvent;
export interface ProgressParams {
  token: ProgressToken;
  value: ChatProgress;
}
export const ProgressNotification = { method: '$/progress', type: new NotificationType<ProgressParams>('$/progress') } as const;
/** For clients: `connection.onProgress(ChatProgressType, token, (value) => …)`. */
export const ChatProgressType = new ProgressType<ChatProgress>();

export interface CancelParams {
  id: string | number;
}
/** vscode-jsonrpc sends it when a request's CancellationToken fires; the reply is then error -32800. */
export const CancelNotification = { method: '$/cancelRequest', type: new NotificationType<CancelParams>('$/cancelRequest') } as const;

/**
 * Another way to cancel a request (the conformance layer honours it besides `$/cancelRequest`),
 * e.g. MCP's `notifications/cancelled {requestId}`: the client forgets the request at once, so
 * the cancelled request gets no reply ("SHOULD NOT send a response for the cancelled request").
 */
export interface CancelConvention {
  method: string;
  /** The param that names the request's id. */
  idParam: string;
  /** Whether the cancelled request is still answered (-32800). */
  reply: boolean;
}

// ---- models and status ---------------------------------------------------------------------------

export const ModelsListParams = z.strictObject({
  /** Only the models that fit now. */
  availableOnly: z.boolean().optional(),
});
export type ModelsListParams = z.infer<typeof ModelsListParams>;
export type ModelsListResult = ModelsReport;
export const ModelsListRequest = defineRequest<ModelsListResult>()('models/list', ModelsListParams);

export const ModelsSwitchParams = z.strictObject({
  /** A model id to pin; "auto" or null unpins. */
  model: z.string().min(1).nullable(),
});
export type ModelsSwitchParams = z.infer<typeof ModelsSwitchParams>;
export interface ModelsSwitchResult {
  pinned: string | null;
}
export const ModelsSwitchRequest = defineRequest<ModelsSwitchResult>()('models/switch', ModelsSwitchParams);

export type StatusResult = StatusReport;
export const StatusRequest = defineRequest<StatusResult>()('status', NoParams);

// ---- conversations and config --------------------------------------------------------------------

export const ConversationIdParams = z.strictObject({ id: z.string().min(1) });
export type ConversationIdParams = z.infer<typeof ConversationIdParams>;

export interface ConversationsListResult {
  conversations: ConversationSummary[];
}
export const ConversationsListRequest = defineRequest<ConversationsListResult>()('conversations/list', NoParams);
export type ConversationsGetResult = Conversation;
export const ConversationsGetRequest = defineRequest<ConversationsGetResult>()('conversations/get', ConversationIdParams);
export interface ConversationsDeleteResult {
  deleted: boolean;
}
export const ConversationsDeleteRequest = defineRequest<ConversationsDeleteResult>()('conversations/delete', ConversationIdParams);

export const ConfigReloadParams = z.strictObject({
  /** Another config file to load instead of the current one. */
  config: z.string().min(1).optional(),
});
export type ConfigReloadParams = z.infer<typeof ConfigReloadParams>;
export interface ConfigReloadResult {
  file: string;
}
export const ConfigReloadRequest = defineRequest<ConfigReloadResult>()('config/reload', ConfigReloadParams);

/** Every request method, in the order `initialize` lists them. */
export const requestMethods = [
  InitializeRequest.method,
  ShutdownRequest.method,
  ChatSendRequest.method,
  ModelsListRequest.method,
  ModelsSwitchRequest.method,
  StatusRequest.method,
  ConversationsListRequest.method,
  ConversationsGetRequest.method,
  ConversationsDeleteRequest.method,
  ConfigReloadRequest.method,
] as const;
export type RequestMethod = (typeof requestMethods)[number];
