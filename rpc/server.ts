/**
 * Mai's JSON-RPC server on a vscode-jsonrpc MessageConnection: one dispatcher that checks the
 * lifecycle, finds the route, validates the params with the method's schema and turns every
 * failure into a ResponseError (rpc/errors.ts). Nothing a client sends can take it down: a failed
 * handler is an error reply.
 */
import type { Disposable, MessageConnection } from 'vscode-jsonrpc/node';
import { ResponseError } from 'vscode-jsonrpc/node';
import { ErrorCodes, MaiError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { Mai } from '../core/mai.ts';
import { invalidParams, protocolError, RpcCodes, toResponseError } from './errors.ts';
import { lifecycleRoutes } from './lifecycle.ts';
import { Methods } from './methods.ts';
import type { Lifecycle, Route, RouteSet } from './route.ts';

export interface MaiServerOptions {
  /**
   * Mai, or its promise while it is being built (`mai serve` answers `initialize` before Mai is
   * ready): the lifecycle methods are answered at once, every other request awaits it.
   */
  mai: Mai | Promise<Mai>;
  log: Logger;
  /** The `exit` notification arrived: code 0 after `shutdown`, else 1. */
  onExit(code: number): void;
  /** The methods answered (`mai serve --mcp` passes the MCP ones); default: Mai's JSON-RPC methods (maiRouteSet). */
  routes?: RouteSet;
  /** Called with `initialize`'s params once they are valid (the host names its client by clientInfo). */
  onInitialize?: (params: Record<string, unknown>) => void;
}

/**
 * Mai's JSON-RPC methods: the lifecycle's (rpc/lifecycle.ts) at once, the others (rpc/handlers.ts,
 * which loads zod and the schemas) imported once Mai is there, so `initialize` is answered before
 * zod is loaded.
 */
const maiRouteSet: RouteSet = {
  lifecycle: lifecycleRoutes,
  async withMai(mai, lifecycle, log) {
    const { maiRoutes } = await import('./handlers.ts');
    return maiRoutes(mai, lifecycle, log);
  },
};

const byMethod = (routes: readonly Route[]) => new Map<string, Route>(routes.map((r) => [r.method, r]));

export function attachMaiServer(connection: MessageConnection, options: MaiServerOptions): Disposable {
  const { log } = options;
  const lifecycle: Lifecycle = { shutdownRequested: false };
  const set = options.routes ?? maiRouteSet;
  const early = byMethod(set.lifecycle(lifecycle, log));
  let routes: Map<string, Route> | undefined;
  const ready = Promise.resolve(options.mai).then(async (mai) => (routes = byMethod(await set.withMai(mai, lifecycle, log))));
  ready.catch(() => {}); // the owner of a promised Mai reports a failed build; requests get it as their error
  const known = () => [...early.keys(), ...(routes?.keys() ?? [])];

  const requests = connection.onRequest(async (method, params, token) => {
    if (lifecycle.shutdownRequested && method !== Methods.shutdown) {
      throw protocolError(RpcCodes.invalidRequest, `Invalid Request: the server is shutting down (shutdown was received), so ${method} is refused; send the exit notification.`);
    }
    let route = early.get(method) ?? routes?.get(method);
    if (!route && !routes) {
      try {
        route = (await ready).get(method);
      } catch (error) {
        throw toResponseError(error); // Mai could not be built (`mai serve` reports it and exits)
      }
    }
    if (!route) {
      throw protocolError(RpcCodes.methodNotFound, `Method not found: "${method}". Mai answers ${known().join(', ')}.`, {
        method,
        methods: known(),
      });
    }
    const parsed = route.params.safeParse(params ?? {});
    if (!parsed.success) throw invalidParams(method, parsed.error);
    if (method === Methods.initialize) options.onInitialize?.(parsed.data as Record<string, unknown>);
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
    if (method === Methods.exit) options.onExit(lifecycle.shutdownRequested ? 0 : 1);
    else log.debug(`notification ${method} ignored`);
  });

  return {
    dispose() {
      requests.dispose();
      notifications.dispose();
    },
  };
}
