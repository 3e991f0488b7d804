/**
 * Mai's JSON-RPC server on a vscode-jsonrpc MessageConnection: one dispatcher that checks the
 * lifecycle, finds the route, validates the params with the method's zod schema and turns every
 * failure into a ResponseError (rpc/errors.ts). Nothing a client sends can take it down: a failed
 * handler is an error reply.
 */
import type { Disposable, MessageConnection } from 'vscode-jsonrpc/node';
import { ResponseError } from 'vscode-jsonrpc/node';
import { ErrorCodes, MaiError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { Mai } from '../core/mai.ts';
import { invalidParams, protocolError, RpcCodes, toResponseError } from './errors.ts';
import { maiRoutes, type Lifecycle, type Route } from './handlers.ts';
import { ExitNotification, ShutdownRequest } from './protocol.ts';

export interface MaiServerOptions {
  mai: Mai;
  log: Logger;
  /** The `exit` notification arrived: code 0 after `shutdown`, else 1. */
  onExit(code: number): void;
  /** The methods answered (default: Mai's JSON-RPC methods, maiRoutes; `mai serve --mcp` passes the MCP ones). */
  routes?: (mai: Mai, lifecycle: Lifecycle, log: Logger) => Route[];
}

export function attachMaiServer(connection: MessageConnection, options: MaiServerOptions): Disposable {
  const { mai, log } = options;
  const lifecycle: Lifecycle = { shutdownRequested: false };
  const routes = new Map<string, Route>((options.routes ?? maiRoutes)(mai, lifecycle, log).map((r) => [r.method, r]));

  const requests = connection.onRequest(async (method, params, token) => {
    if (lifecycle.shutdownRequested && method !== ShutdownRequest.method) {
      throw protocolError(RpcCodes.invalidRequest, `Invalid Request: the server is shutting down (shutdown was received), so ${method} is refused; send the exit notification.`);
    }
    const route = routes.get(method);
    if (!route) {
      throw protocolError(RpcCodes.methodNotFound, `Method not found: "${method}". Mai answers ${[...routes.keys()].join(', ')}.`, {
        method,
        methods: [...routes.keys()],
      });
    }
    const parsed = route.params.safeParse(params ?? {});
    if (!parsed.success) throw invalidParams(method, parsed.error);
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
    if (method === ExitNotification.method) options.onExit(lifecycle.shutdownRequested ? 0 : 1);
    else log.debug(`notification ${method} ignored`);
  });

  return {
    dispose() {
      requests.dispose();
      notifications.dispose();
    },
  };
}
