/**
 * Mai's JSON-RPC server on a vscode-jsonrpc MessageConnection: one dispatcher that checks the
 * lifecycle (nothing but `exit` after `shutdown`), finds the route, validates the params with the
 * method's schema and turns every failure into a ResponseError (rpc/errors.ts). Nothing a client sends can take it down: a failed
 * handler is an error reply.
 */
import type { Disposable, MessageConnection } from 'vscode-jsonrpc/node';
import { ResponseError } from 'vscode-jsonrpc/node';
import { ErrorCodes, MaiError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { Mai } from '../core/mai.ts';
import { RpcCodes } from './error-codes.ts';
import { invalidParams, protocolError, toResponseError } from './errors.ts';
import { maiRoutes } from './handlers.ts';
import { ExitNotification, InitializeRequest, ShutdownRequest } from './mai-protocol.ts';
import type { Route, Routes, Session } from './route.ts';

export interface MaiServerOptions {
  /**
   * Mai, or its promise while it is being built (`mai serve` serves while Mai is built): the
   * methods that need no Mai are answered at once, every other request awaits it.
   */
  mai: Mai | Promise<Mai>;
  log: Logger;
  /** The `exit` notification arrived: code 0 after `shutdown`, else 1. */
  onExit(code: number): void;
  /** The methods answered (`mai serve --mcp` passes the MCP ones); default: Mai's JSON-RPC methods (rpc/handlers.ts). */
  routes?: Routes;
  /** Called with `initialize`'s params once they are valid (the host names its client by clientInfo). */
  onInitialize?: (params: Record<string, unknown>) => void;
}

export function attachMaiServer(connection: MessageConnection, options: MaiServerOptions): Disposable {
  const { log } = options;
  const mai = Promise.resolve(options.mai);
  mai.catch(() => {}); // the owner of a promised Mai reports a failed build; requests get it as their error
  const session: Session = { mai, log, shutdownRequested: false };
  const routes = new Map<string, Route>((options.routes ?? maiRoutes)(session).map((r) => [r.method, r]));
  const known = [...routes.keys()];

  const requests = connection.onRequest(async (method, params, token) => {
    if (session.shutdownRequested && method !== ShutdownRequest.method) {
      throw protocolError(RpcCodes.invalidRequest, `Invalid Request: the server is shutting down (shutdown was received), so ${method} is refused; send the exit notification.`);
    }
    const route = routes.get(method);
    if (!route) {
      throw protocolError(RpcCodes.methodNotFound, `Method not found: "${method}". Mai answers ${known.join(', ')}.`, {
        method,
        methods: known,
      });
    }
    const parsed = route.params.safeParse(params ?? {});
    if (!parsed.success) throw invalidParams(method, parsed.error);
    if (method === InitializeRequest.method) options.onInitialize?.(parsed.data as Record<string, unknown>);
    if (token.isCancellationRequested) throw toResponseError(new MaiError(ErrorCodes.cancelled, `${method} was cancelled before it started.`));
    try {
      return await route.run(parsed.data, { token, connection });
    } catch (error) {
      const reply = toResponseError(error);
      if (reply.code === RpcCodes.internalError && !(error instanceof ResponseError)) log.error(`${method} failed`, error instanceof Error ? error.stack ?? error : error);
      else log.debug(`${method} answered error ${reply.code}: ${reply.message}`);
      throw reply;
    }
  });

  const notifications = connection.onNotification((method) => {
    if (method === ExitNotification.method) options.onExit(session.shutdownRequested ? 0 : 1);
    else log.debug(`notification ${method} ignored`);
  });

  return {
    dispose() {
      requests.dispose();
      notifications.dispose();
    },
  };
}
