/**
 * Mai's errors as JSON-RPC error objects: the ONE table of codes, and the one builder of an error
 * object and of an error reply. Free of vscode-jsonrpc, zod and Mai's core at run time (only
 * `ErrorCode`'s type is imported), so the forwarder (rpc/host/wire.ts) and the framing layer
 * (rpc/conformance.ts) build their replies here too; rpc/errors.ts turns what a handler throws into
 * vscode-jsonrpc's `ResponseError` with the same builders. Every error's `data` says why:
 * `{ code: <Mai's string code>, retryable, ...details }` — e.g. `known` (the model ids) for an
 * unknown model, `attempts` (each model tried and its error) when every fallback failed, `issues`
 * (path + message) for invalid params.
 *
 *   JSON-RPC code  Mai code (data.code)                 meaning
 *   -32700         parse-error                          parse error: the frame is not JSON (id is null)
 *   -32600         invalid-request                      invalid request: not a JSON-RPC 2.0 request object,
 *                                                        "id": null, an empty batch, or a request after shutdown
 *   -32601         method-not-found                     method not found
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
import type { ErrorCode } from '../core/errors.ts';

/** JSON-RPC 2.0's own codes (the values of vscode-jsonrpc's ErrorCodes) and LSP's RequestCancelled. */
export const RpcCodes = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internalError: -32603,
  requestCancelled: -32800,
} as const;

export type ProtocolCode = (typeof RpcCodes)[keyof typeof RpcCodes];

/** `data.code` of the errors the protocol layer makes itself (those Mai also makes carry Mai's code). */
const protocolDataCode: Record<ProtocolCode, string> = {
  [RpcCodes.parseError]: 'parse-error',
  [RpcCodes.invalidRequest]: 'invalid-request',
  [RpcCodes.methodNotFound]: 'method-not-found',
  [RpcCodes.invalidParams]: 'invalid-params',
  [RpcCodes.internalError]: 'internal',
  [RpcCodes.requestCancelled]: 'cancelled',
};

const rpcCodeOf: Record<ErrorCode, number> = {
  'invalid-params': RpcCodes.invalidParams,
  'unknown-model': RpcCodes.invalidParams,
  internal: RpcCodes.internalError,
  cancelled: RpcCodes.requestCancelled,
  'config-not-found': -32010,
  'config-invalid': -32011,
  'plugin-unknown': -32012,
  'plugin-load': -32013,
  'config-not-allowed': -32014,
  'state-dir-unusable': -32015,
  'no-model-fits': -32020,
  'pinned-model-unfit': -32021,
  'all-attempts-failed': -32022,
  'queue-full': -32023,
  unreachable: -32030,
  timeout: -32031,
  'rate-limited': -32032,
  'context-overflow': -32033,
  'model-not-found': -32034,
  'server-error': -32035,
  'stream-cut': -32036,
  'empty-reply': -32037,
  'bad-request': -32038,
  'conversation-not-found': -32040,
  'conversation-corrupt': -32041,
  'host-lost': -32050,
  'host-unsafe': -32051,
};

/** The JSON-RPC code a MaiError code travels as. */
export function rpcCodeFor(code: ErrorCode): number {
  return rpcCodeOf[code];
}

/** The `data` of every error Mai answers with. */
export interface RpcErrorData {
  /** Mai's stable string code (core/errors.ts), or a JSON-RPC one such as `invalid-request`. */
  code: string;
  retryable: boolean;
  [detail: string]: unknown;
}

/** A JSON-RPC error object as Mai sends it: always with `data`. */
export interface RpcErrorObject {
  code: number;
  message: string;
  data: RpcErrorData;
}

/** The error object of a failure Mai's core names (a MaiError's code, retryable flag and details). */
export function maiErrorObject(code: ErrorCode, message: string, retryable: boolean, details: Readonly<Record<string, unknown>> = {}): RpcErrorObject {
  return { code: rpcCodeOf[code], message, data: { ...details, code, retryable } };
}

/** The error object of a failure the protocol layer finds itself (a malformed frame, an unknown method…). */
export function protocolErrorObject(code: ProtocolCode, message: string, details: Readonly<Record<string, unknown>> = {}): RpcErrorObject {
  return { code, message, data: { ...details, code: protocolDataCode[code], retryable: false } };
}

/** A whole JSON-RPC error reply (id null when the request's id could not be read). */
export function errorResponse(id: string | number | null, error: RpcErrorObject): { jsonrpc: '2.0'; id: string | number | null; error: RpcErrorObject } {
  return { jsonrpc: '2.0', id, error };
}
