/**
 * Mai's JSON-RPC protocol: every method declared once, as a typed constant (the way
 * vscode-languageserver-protocol does it) carrying its name, with one object parameter per method.
 * The params are zod schemas — the single source of truth: the server validates with them and
 * the TypeScript types are inferred from them. Results are core's facade types.
 * Clients import these from `rpc/index.ts`: `client.sendRequest(ChatSendRequest.type, {...})`.
 * Each params schema is built on its first use (`lazySchema`, core/zod.ts): a launch answers a few
 * of these methods, and building them all at load was ~160 of the ~600 schemas each `mai serve` built.
 */
import { NotificationType, ParameterStructures, ProgressType, RequestType } from 'vscode-jsonrpc/node';
import { lazySchema, z } from '../core/zod.ts';
import type { Conversation, ConversationSummary } from '../core/context/message.ts';
import type { StatsReport } from '../core/ledger/stats.ts';
import { parseSince } from '../core/ledger/window.ts';
import type { MetricsText, ModelsReport, StatusReport } from '../core/mai.ts';
import type { TurnEvent, TurnResult } from '../core/pipeline/turn.ts';
import { TurnRequest } from '../core/turn-request.ts';
import type { RpcErrorData } from './error-codes.ts';

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

/** Declares a notification once. */
function defineNotification<P>() {
  return <const M extends string>(method: M) => ({ method, type: new NotificationType<P>(method) }) as const;
}

/** Params of a method that takes none: an empty object (or nothing at all on the wire). */
const NoParams = lazySchema(() => z.strictObject({}));
export type NoParams = z.infer<typeof NoParams>;

// ---- lifecycle -----------------------------------------------------------------------------------

/** Loose on purpose: LSP-style clients send more (processId, rootUri, locale…), which Mai ignores. */
export const InitializeParams = lazySchema(() =>
  z.looseObject({
    clientInfo: z.looseObject({ name: z.string(), version: z.string().optional() }).optional(),
    capabilities: z.record(z.string(), z.unknown()).optional(),
  }),
);
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
export const ExitNotification = defineNotification<void>()('exit');

export interface CancelParams {
  id: string | number;
}
/** vscode-jsonrpc sends it when a request's CancellationToken fires; the reply is then error -32800. */
export const CancelNotification = defineNotification<CancelParams>()('$/cancelRequest');

// ---- chat ----------------------------------------------------------------------------------------

export const ProgressToken = lazySchema(() => z.union([z.string(), z.number()]));
export type ProgressToken = z.infer<typeof ProgressToken>;

/** A turn's request (core/turn-request.ts, the one schema) and what only the wire adds. */
export const ChatSendParams = lazySchema(() =>
  TurnRequest.unwrap()
    .omit({ client: true })
    .extend({
      /** With a token, the answer streams as `$/progress` notifications carrying it. */
      progressToken: ProgressToken.optional(),
    }),
);
export type ChatSendParams = z.infer<typeof ChatSendParams>;
export type ChatSendResult = TurnResult;
export const ChatSendRequest = defineRequest<ChatSendResult>()('chat/send', ChatSendParams);

/** What `$/progress` carries for chat/send: a piece of text, or `restart` (discard what came so far). */
export type ChatProgress = TurnEvent;
export interface ProgressParams {
  token: ProgressToken;
  value: ChatProgress;
}
export const ProgressNotification = defineNotification<ProgressParams>()('$/progress');
/** For clients: `connection.onProgress(ChatProgressType, token, (value) => …)`. */
export const ChatProgressType = new ProgressType<ChatProgress>();

// ---- models and status ---------------------------------------------------------------------------

export const ModelsListParams = lazySchema(() =>
  z.strictObject({
    /** Only the models that fit now. */
    availableOnly: z.boolean().optional(),
  }),
);
export type ModelsListParams = z.infer<typeof ModelsListParams>;
export type ModelsListResult = ModelsReport;
export const ModelsListRequest = defineRequest<ModelsListResult>()('models/list', ModelsListParams);

export const ModelsSwitchParams = lazySchema(() =>
  z.strictObject({
    /** A model id to pin (`id@backend`: one of its servers); "auto" or null unpins. */
    model: z.string().min(1).nullable(),
  }),
);
export type ModelsSwitchParams = z.infer<typeof ModelsSwitchParams>;
export interface ModelsSwitchResult {
  pinned: string | null;
  /** The server pinned, when the pin names one. */
  replica?: string;
}
export const ModelsSwitchRequest = defineRequest<ModelsSwitchResult>()('models/switch', ModelsSwitchParams);

/** The machine's picture: models, pin, resources, backends, counters, loaded models, clients and queues. */
export type StatusResult = StatusReport;
export type { ClientStatus } from '../core/clients.ts';
export type { ModelQueueStatus } from '../core/fallback/model-queue.ts';
export const StatusRequest = defineRequest<StatusResult>()('status', NoParams);

// ---- observability -------------------------------------------------------------------------------

export const StatsParams = lazySchema(() =>
  z.strictObject({
    /** The window: a duration back from now (90s, 30m, 1h, 7d, 2w) or a date; default 24h. */
    since: z
      .string()
      .refine((v) => parseSince(v) !== null, { message: 'expected a duration back from now (90s, 30m, 1h, 7d, 2w) or a date (2026-11-28T15:00:00Z)' })
      .optional(),
    /** Slices of the window for each backend's reachability over time (default 12). */
    buckets: z.number().int().min(1).max(200).optional(),
  }),
);
export type StatsParams = z.infer<typeof StatsParams>;
export type StatsResult = StatsReport;
export const StatsRequest = defineRequest<StatsResult>()('stats', StatsParams);

/** The Prometheus text exposition (what GET /metrics would answer). */
export type MetricsResult = MetricsText;
export const MetricsRequest = defineRequest<MetricsResult>()('metrics', NoParams);

// ---- conversations and config --------------------------------------------------------------------

export const ConversationIdParams = lazySchema(() => z.strictObject({ id: z.string().min(1) }));
export type ConversationIdParams = z.infer<typeof ConversationIdParams>;

/** A page of conversations, newest first: `limit` (default 100, at most 1000) after `cursor` (a previous page's `nextCursor`). */
export const ConversationsListParams = lazySchema(() =>
  z.strictObject({
    cursor: z.string().min(1).optional(),
    limit: z.number().int().min(1).max(1000).optional(),
  }),
);
export type ConversationsListParams = z.infer<typeof ConversationsListParams>;
export interface ConversationsListResult {
  conversations: ConversationSummary[];
  /** Present when more conversations follow: pass it as `cursor`. */
  nextCursor?: string;
}
export const ConversationsListRequest = defineRequest<ConversationsListResult>()('conversations/list', ConversationsListParams);
/**
 * The conversation as read back. `warnings` says what could not be read as written, one sentence
 * each: a zero-length file, bytes that are not UTF-8 (read as U+FFFD), a record or a turn torn by a
 * crash and skipped. Empty when the file read back whole.
 */
export type ConversationsGetResult = Conversation;
export const ConversationsGetRequest = defineRequest<ConversationsGetResult>()('conversations/get', ConversationIdParams);
export interface ConversationsDeleteResult {
  deleted: boolean;
}
export const ConversationsDeleteRequest = defineRequest<ConversationsDeleteResult>()('conversations/delete', ConversationIdParams);

export const ConfigReloadParams = lazySchema(() =>
  z.strictObject({
    /** Another config file to load instead: only Mai's own or one its `reload.allow` lists (else -32014). */
    config: z.string().min(1).optional(),
  }),
);
export type ConfigReloadParams = z.infer<typeof ConfigReloadParams>;
export interface ConfigReloadResult {
  file: string;
}
export const ConfigReloadRequest = defineRequest<ConfigReloadResult>()('config/reload', ConfigReloadParams);

/** Every request, in the order `initialize` lists them. */
export const requests = [
  InitializeRequest,
  ShutdownRequest,
  ChatSendRequest,
  ModelsListRequest,
  ModelsSwitchRequest,
  StatusRequest,
  StatsRequest,
  MetricsRequest,
  ConversationsListRequest,
  ConversationsGetRequest,
  ConversationsDeleteRequest,
  ConfigReloadRequest,
] as const;
export type RequestMethod = (typeof requests)[number]['method'];
export const requestMethods: readonly RequestMethod[] = requests.map((r) => r.method);
