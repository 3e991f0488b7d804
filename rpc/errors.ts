/**
 * Where what a handler throws becomes the JSON-RPC error the client gets: vscode-jsonrpc's
 * `ResponseError`, built from the one table of codes and the one error-object builder in
 * rpc/error-codes.ts (which lists every code and its `data`). Mai's core throws `MaiError`s
 * (core/errors.ts); the protocol layer throws `protocolError`s; params that fail their schema are
 * `invalidParams`, naming each problem.
 */
import { ResponseError } from 'vscode-jsonrpc/node';
import { ErrorCodes, MaiError, type ErrorCode } from '../core/errors.ts';
import { maiErrorObject, protocolErrorObject, type ProtocolCode, type RpcErrorData, type RpcErrorObject } from './error-codes.ts';

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
export function protocolError(code: ProtocolCode, message: string, details: Readonly<Record<string, unknown>> = {}): ResponseError<RpcErrorData> {
  return responseError(protocolErrorObject(code, message, details));
}

/** Params that do not match a method's schema: -32602 naming each problem. */
export function invalidParams(method: string, error: ParamsIssues): ResponseError<RpcErrorData> {
  const issues = error.issues.map((issue) => ({ path: issue.path.map(String).join('.') || '(params)', message: issue.message }));
  const list = issues.map((i) => `${i.path}: ${i.message}`).join('; ');
  return responseError(maiErrorObject('invalid-params', `Invalid params for ${method}: ${list}.`, false, { issues }));
}

/** Turns anything a handler threw into the ResponseError the client gets. */
export function toResponseError(error: unknown): ResponseError<RpcErrorData> {
  if (error instanceof ResponseError) return error as ResponseError<RpcErrorData>;
  if (isZodError(error)) return invalidParams('the request', error);
  return responseError(rpcErrorOf(MaiError.from(error)));
}

/** A MaiError as the JSON-RPC error object it travels as. */
export function rpcErrorOf(error: MaiError): RpcErrorObject {
  return maiErrorObject(error.code, error.message, error.retryable, error.data ?? {});
}

function responseError(error: RpcErrorObject): ResponseError<RpcErrorData> {
  return new ResponseError<RpcErrorData>(error.code, error.message, error.data);
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
