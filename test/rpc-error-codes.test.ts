/**
 * The one table of JSON-RPC codes (rpc/error-codes.ts) and the errors built from it: the protocol
 * layer's, Mai's, and the forwarder's host-lost reply all have the same shape, `data` included.
 */
import { ErrorCodes as JsonRpcErrorCodes, ResponseError } from 'vscode-jsonrpc/node';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, MaiError, type ErrorCode } from '../core/errors.ts';
import { errorResponse, maiErrorObject, protocolErrorObject, RpcCodes, rpcCodeFor } from '../rpc/error-codes.ts';
import { invalidParams, protocolError, toResponseError } from '../rpc/errors.ts';
import { hostLostReply } from '../rpc/host/wire.ts';

const maiCodes = Object.values(ErrorCodes) as ErrorCode[];
/** The codes vscode-jsonrpc reserves in the server-error range. */
const reserved = new Set([-32001, -32002, -32096, -32097, -32098, -32099]);

describe('JSON-RPC error codes', () => {
  it('JSON-RPC\'s own codes are vscode-jsonrpc\'s', () => {
    expect(RpcCodes.parseError).toBe(JsonRpcErrorCodes.ParseError);
    expect(RpcCodes.invalidRequest).toBe(JsonRpcErrorCodes.InvalidRequest);
    expect(RpcCodes.methodNotFound).toBe(JsonRpcErrorCodes.MethodNotFound);
    expect(RpcCodes.invalidParams).toBe(JsonRpcErrorCodes.InvalidParams);
    expect(RpcCodes.internalError).toBe(JsonRpcErrorCodes.InternalError);
  });

  it('every Mai error has a code of its own in the server-error range, clear of the reserved ones', () => {
    const own = maiCodes.filter((c) => !['invalid-params', 'unknown-model', 'internal', 'cancelled'].includes(c));
    for (const code of own) {
      const rpc = rpcCodeFor(code);
      expect(rpc, code).toBeGreaterThanOrEqual(-32099);
      expect(rpc, code).toBeLessThanOrEqual(-32000);
      expect(reserved.has(rpc), code).toBe(false);
    }
    expect(new Set(own.map(rpcCodeFor)).size).toBe(own.length);
    expect(rpcCodeFor(ErrorCodes.unknownModel)).toBe(RpcCodes.invalidParams);
    expect(rpcCodeFor(ErrorCodes.cancelled)).toBe(RpcCodes.requestCancelled);
  });

  it('a MaiError travels with its code, retryable flag and details in data', () => {
    const error = toResponseError(new MaiError(ErrorCodes.unknownModel, 'no model "x"', { data: { known: ['a'] } }));
    expect(error).toBeInstanceOf(ResponseError);
    expect(error.toJson()).toEqual({ code: -32602, message: 'no model "x"', data: { known: ['a'], code: 'unknown-model', retryable: false } });
    expect(toResponseError(new Error('boom')).toJson()).toMatchObject({ code: RpcCodes.internalError, data: { code: 'internal', retryable: false } });
    // data cannot override the code or the flag
    const sneaky = maiErrorObject(ErrorCodes.timeout, 'slow', true, { code: 'other', retryable: false });
    expect(sneaky.data).toMatchObject({ code: 'timeout', retryable: true });
  });

  it('the protocol layer\'s errors name their kind in data.code like Mai\'s do', () => {
    expect(protocolErrorObject(RpcCodes.parseError, 'p').data).toEqual({ code: 'parse-error', retryable: false });
    expect(protocolErrorObject(RpcCodes.invalidRequest, 'r').data.code).toBe('invalid-request');
    expect(protocolError(RpcCodes.methodNotFound, 'm', { method: 'x' }).toJson().data).toEqual({ method: 'x', code: 'method-not-found', retryable: false });
    // an internal error reads the same whether the framing layer or Mai's core made it
    expect(protocolErrorObject(RpcCodes.internalError, 'i').data.code).toBe(toResponseError(new MaiError(ErrorCodes.internal, 'i')).data?.code);
    const params = invalidParams('chat/send', { issues: [{ path: ['message'], message: 'Required' }] }).toJson();
    expect(params).toMatchObject({ code: -32602, data: { code: 'invalid-params', issues: [{ path: 'message', message: 'Required' }] } });
    expect(params.message).toBe('Invalid params for chat/send: message: Required.');
  });

  it('the forwarder\'s host-lost reply is the error Mai would send for host-lost', () => {
    const reply = JSON.parse(hostLostReply(7, 'it was killed')) as { jsonrpc: string; id: number; error: { code: number; message: string; data: unknown } };
    expect(reply).toMatchObject({ jsonrpc: '2.0', id: 7 });
    expect(reply.error.message).toMatch(/it was killed.*Retry/);
    const same = toResponseError(new MaiError(ErrorCodes.hostLost, reply.error.message)).toJson();
    expect(reply.error).toEqual(same);
    expect(errorResponse(null, maiErrorObject(ErrorCodes.hostLost, reply.error.message, true))).toEqual({ jsonrpc: '2.0', id: null, error: same });
  });
});
