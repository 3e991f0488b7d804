/**
 * The ONE place where Mai's errors (core/errors.ts) become JSON-RPC errors. Every expected failure
 * travels as a `ResponseError` whose `data` says why: `{ code: <Mai's string code>, retryable,
 * ...details }` — e.g. `known` (the model ids) for an unknown model, `attempts` (each model tried and
 * its error) when every fallback failed, `issues` (path + message) for invalid params.
 *
 *   JSON-RPC code  Mai code (data.code)                 meaning
 *   -32700         —                                    parse error: the frame is not JSON (id is null)
 *   -32600         —                                    invalid request: not a JSON-RPC 2.0 request object,
 *                                                        "id": null, an empty batch, or a request after shutdown
 *   -32601         —                                    method not found
 *   -32602         invalid-params, unknown-model        params do not match the method's schema; a model id
 *                                                        that no backend lists (data.known lists the ids)
 *   -32603         internal                             a bug in Mai: the message says what failed
 *   -32800         cancelled                            the request was cancelled ($/cancelRequest)
 *   -32010         config-not-found                     config/reload: the file does not exist
 *   -32011         config-invalid                       config/reload: the config is broken (data.issues)
 *   -32012         plugin-unknown                       config/reload: a `use:` names no plugin
 *   -32013         plugin-load                          config/reload: a plugin module failed to load
 *   -32014         config-not-allowed                   config/reload: the path is neither the host's config
 *                                                        nor in its `reload.allow` list (nothing was read)
 *   -32015         state-dir-unusable                   the state dir cannot be created, written or locked
 *                                                        (data.stateDir names it)
 *   -32020         no-model-fits                        no model can answer now (data.models)
 *   -32021         pinned-model-unfit                   the pinned model does not fit now (data.vetoes)
 *   -32022         all-attempts-failed                  every model tried failed (data.attempts)
 *   -32023         queue-full                           too many turns are waiting for one model
 *   -32030..-32038 unreachable, timeout, rate-limited,  a backend failed (and could not be retried)
 *                  context-overflow, model-not-found,
 *                  server-error, stream-cut, empty-reply,
 *                  bad-request
 *   -32040         conversation-not-found               no conversation with that id
 *   -32041         conversation-corrupt                 the conversation file cannot be read
 *   -32050         host-lost                            the shared host stopped while answering (retryable;
 *                                                        made by the forwarder, rpc/host/wire.ts)
 *   -32051         host-unsafe                          the host's socket or folder is another user's or open to others
 *
 * Mai's own codes sit in JSON-RPC's server-error range (-32000..-32099), clear of the codes
 * vscode-jsonrpc reserves there (-32001, -32002, -32096..-32099).
 */
import { ErrorCodes as JsonRpcCodes, ResponseError } from 'vscode-jsonrpc/node';
import { ErrorCodes, MaiError, type ErrorCode } from '../core/errors.ts';
import { HostRpcCodes } from './host/wire.ts';

/** One problem with a request's params: where (the path of keys) and what (a zod issue fits). */
export interface ParamsIssue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

/** What a failed params check reports (a ZodError fits: zod is not imported here, so `mai serve` answers `initialize` without it). */
export interface ParamsIssues {
  readonly issues: readonly ParamsIssue[];
}

/** A ZodError, told apart without importing zod (its errors are named "ZodError" and carry issues). */
function isZodError(error: unknown): error is Error & ParamsIssues {
  return error instanceof Error && error.name === 'ZodError' && Array.isArray((error as Partial<ParamsIssues>).issues);
}

/** The `data` of every error Mai answers with. */
export interface RpcErrorData {
  /** Mai's stable string code (core/errors.ts), or a JSON-RPC one such as `invalid-request`. */
  code: string;
  retryable: boolean;
  [detail: string]: unknown;
}

export const RpcCodes = {
  parseError: JsonRpcCodes.ParseError,
  invalidRequest: JsonRpcCodes.InvalidRequest,
  methodNotFound: JsonRpcCodes.MethodNotFound,
  invalidParams: JsonRpcCodes.InvalidParams,
  internalError: JsonRpcCodes.InternalError,
  /** LSP's RequestCancelled. */
  requestCancelled: -32800,
} as const;

const rpcCodeOf: Record<ErrorCode, number> = {
  [ErrorCodes.invalidParams]: RpcCodes.invalidParams,
  [ErrorCodes.unknownModel]: RpcCodes.invalidParams,
  [ErrorCodes.internal]: RpcCodes.internalError,
  [ErrorCodes.cancelled]: RpcCodes.requestCancelled,
  [ErrorCodes.configNotFound]: -32010,
  [ErrorCodes.configInvalid]: -32011,
  [ErrorCodes.pluginUnknown]: -32012,
  [ErrorCodes.pluginLoad]: -32013,
  [ErrorCodes.configNotAllowed]: -32014,
  [ErrorCodes.stateDirUnusable]: -32015,
  [ErrorCodes.noModelFits]: -32020,
  [ErrorCodes.pinnedModelUnfit]: -32021,
  [ErrorCodes.allAttemptsFailed]: -32022,
  [ErrorCodes.queueFull]: -32023,
  [ErrorCodes.unreachable]: -32030,
  [ErrorCodes.timeout]: -32031,
  [ErrorCodes.rateLimited]: -32032,
  [ErrorCodes.contextOverflow]: -32033,
  [ErrorCodes.modelNotFound]: -32034,
  [ErrorCodes.serverError]: -32035,
  [ErrorCodes.streamCut]: -32036,
  [ErrorCodes.emptyReply]: -32037,
  [ErrorCodes.badRequest]: -32038,
  [ErrorCodes.conversationNotFound]: -32040,
  [ErrorCodes.conversationCorrupt]: -32041,
  [ErrorCodes.hostLost]: HostRpcCodes.hostLost,
  [ErrorCodes.hostUnsafe]: -32051,
};

/** The JSON-RPC code a MaiError code travels as. */
export function rpcCodeFor(code: ErrorCode): number {
  return rpcCodeOf[code];
}

/** The config and plugin errors the CLI answers with exit code 2. */
export const configErrorCodes: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  ErrorCodes.configNotFound,
  ErrorCodes.configInvalid,
  ErrorCodes.pluginUnknown,
  ErrorCodes.pluginLoad,
  ErrorCodes.configNotAllowed,
  ErrorCodes.stateDirUnusable,
]);

/** An error made by the protocol layer itself (not by Mai's core). */
export function protocolError(code: number, message: string, details: Record<string, unknown> = {}): ResponseError<RpcErrorData> {
  const name = Object.entries(RpcCodes).find(([, value]) => value === code)?.[0] ?? 'protocol-error';
  return new ResponseError<RpcErrorData>(code, message, { ...details, code: kebab(name), retryable: false });
}

/** Params that do not match a method's schema: -32602 naming each problem. */
export function invalidParams(method: string, error: ParamsIssues): ResponseError<RpcErrorData> {
  const issues = error.issues.map((issue) => ({ path: issue.path.map(String).join('.') || '(params)', message: issue.message }));
  const list = issues.map((i) => `${i.path}: ${i.message}`).join('; ');
  return new ResponseError<RpcErrorData>(RpcCodes.invalidParams, `Invalid params for ${method}: ${list}.`, {
    code: ErrorCodes.invalidParams,
    retryable: false,
    issues,
  });
}

/** Turns anything a handler threw into the ResponseError the client gets. */
export function toResponseError(error: unknown): ResponseError<RpcErrorData> {
  if (error instanceof ResponseError) return error as ResponseError<RpcErrorData>;
  if (isZodError(error)) return invalidParams('the request', error);
  const mai = MaiError.from(error);
  return new ResponseError<RpcErrorData>(rpcCodeFor(mai.code), mai.message, {
    ...(mai.data ?? {}),
    code: mai.code,
    retryable: mai.retryable,
  });
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The why of an error reply, one line per attempt or veto, for people. */
export function describeErrorData(data: RpcErrorData | undefined): string {
  if (!data) return '';
  const lines: string[] = [];
  const attempts = Array.isArray(data.attempts) ? (data.attempts as Array<{ model: string; error?: { message: string } }>) : [];
  for (const a of attempts) lines.push(`  ${a.model}: ${a.error?.message ?? 'answered'}`);
  const models = Array.isArray(data.models) ? (data.models as Array<{ id?: string; reason?: string }>) : [];
  for (const m of models) if (m.id) lines.push(`  ${m.id}: ${m.reason ?? 'fits'}`);
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}
