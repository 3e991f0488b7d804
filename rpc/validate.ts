/**
 * Sorts one parsed JSON value the way JSON-RPC 2.0 does: a request, a notification, a response
 * (which a client may send; Mai makes no requests, so it is dropped), or an invalid request with
 * the -32600 error to answer. vscode-jsonrpc would silently drop what is invalid here.
 */
import { RpcCodes } from './error-codes.ts';

export type RequestId = string | number;

export type Classified =
  | { kind: 'request'; id: RequestId; method: string; params: unknown }
  | { kind: 'notification'; method: string; params: unknown }
  | { kind: 'response' }
  | { kind: 'invalid'; id: RequestId | null; code: typeof RpcCodes.invalidRequest; message: string };

const has = (value: object, key: string): boolean => Object.prototype.hasOwnProperty.call(value, key);

/**
 * Names what a member holds, in bounded time and space: a client's value may be megabytes long or
 * nest thousands of levels deep, so nothing here walks into it (printing it once overflowed the stack).
 */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  switch (typeof value) {
    case 'string':
      return `the string ${JSON.stringify(value.slice(0, 40))}${value.length > 40 ? ` (${value.length} characters)` : ''}`;
    case 'number':
    case 'boolean':
      return `${typeof value} ${String(value)}`;
    case 'object':
      return `an object with ${Object.keys(value).length} key(s)`;
    default:
      return typeof value;
  }
}

export function classify(value: unknown): Classified {
  const invalid = (message: string, id: RequestId | null = null): Classified => ({
    kind: 'invalid',
    id,
    code: RpcCodes.invalidRequest,
    message: `Invalid Request: ${message}`,
  });
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return invalid(`expected a JSON-RPC 2.0 request object, got ${describe(value)}.`);
  }
  const message = value as Record<string, unknown>;
  const rawId = message.id;
  const idOk = typeof rawId === 'string' || (typeof rawId === 'number' && Number.isFinite(rawId));
  const id = idOk ? (rawId as RequestId) : null;
  if (message.jsonrpc !== '2.0') {
    return invalid(`"jsonrpc" must be exactly "2.0", got ${has(message, 'jsonrpc') ? describe(message.jsonrpc) : 'nothing'}.`, id);
  }
  if (!has(message, 'method')) {
    if (has(message, 'id') && (has(message, 'result') || has(message, 'error'))) return { kind: 'response' };
    return invalid('the object has no "method" (name the method to call, e.g. "status").', id);
  }
  if (typeof message.method !== 'string') return invalid(`"method" must be a string, got ${describe(message.method)}.`, id);
  if (has(message, 'id') && !idOk) {
    return invalid(
      rawId === null
        ? '"id" is null: Mai cannot tell the reply apart from an error about an unreadable request. Use a string or number id, or leave "id" out for a notification.'
        : `"id" must be a string or a number, got ${describe(rawId)}.`,
    );
  }
  const params = message.params === null ? undefined : message.params;
  if (params !== undefined && typeof params !== 'object') {
    return invalid(`"params" must be an object (or left out), got ${describe(params)}.`, id);
  }
  if (id === null) return { kind: 'notification', method: message.method, params };
  return { kind: 'request', id, method: message.method, params };
}
