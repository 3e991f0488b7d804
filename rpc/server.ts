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
import type { Lifecycle, Route } from './route.ts';

export interface MaiServerOptions {
  /**
   * Mai, or its promise while it is being built (`mai serve` answers `initialize` before Mai is
   * ready): the lifecycle methods are answered at once, every other request awaits it.
   */
  mai: Mai | Promise<Mai>;
  log: Logger;
  /** The `exit` notification arrived: code 0 after `shutdown`, else 1. */
  onExit(code: number): void;
  /**
   * The methods answered (`mai serve --mcp` passes the MCP ones). Default: Mai's JSON-RPC methods —
   * the lifecycle's (rpc/lifecycle.ts) at once, the others (rpc/handlers.ts, which loads zod and
   * the schemas) imported once Mai is there, so `initialize` is answered before zod is loaded.
   */
  routes?: (mai: Mai, lifecycle: Lifecycle, log: Logger) => Route[];
}

/** Mai's own routes, imported when first needed (see MaiServerOptions.routes). */
async function importedMaiRoutes(mai: Mai, lifecycle: Lifecycle, log: Logger): Promise<Route[]> {
  const { maiRoutes } = await import('./handlers.ts');
  return maiRoutes(mai, lifecycle, log);
}

const byMethod = (routes: readonly Route[]) => new Map<string, Route>(routes.map((r) => [r.method, r]));

/** Methods of given routes (MaiServerOptions.routes) answered without Mai (their handlers never touch it): MCP's lifecycle. */
const EARLY_METHODS: ReadonlySet<string> = new Set([Methods.initialize, Methods.shutdown, 'ping' /* MCP's (rpc/mcp/protocol.ts, not loaded here) */]);

/** Stands in for Mai while it is built, for the routes of EARLY_METHODS only: any use of it is a bug, reported as such. */
const maiNotReady = new Proxy(
  {},
  {
    get(_target, property) {
      throw new MaiError(ErrorCodes.internal, `Mai is not built yet, but a lifecycle method used Mai.${String(property)}.`);
    },
  },
) as Mai;

/** The routes of EARLY_METHODS, built before Mai exists (none if the routes need Mai to be built). */
function earlyRoutes(build: () => Map<string, Route>, log: Logger): Map<string, Route> {
  try {
    return new Map([...build()].filter(([method]) => EARLY_METHODS.has(method)));
  } catch (error) {
    log.debug('these routes need Mai to be built; every method waits for it', error);
    return new Map();
  }
}

export function attachMaiServer(connection: MessageConnection, options: MaiServerOptions): Disposable {
  const { log } = options;
  const lifecycle: Lifecycle = { shutdownRequested: false };
  const given = options.routes;
  let routes: Map<string, Route> | undefined;
  let early: Map<string, Route> | undefined;
  let ready: Promise<Map<string, Route>>;
  if (!given) {
    early = byMethod(lifecycleRoutes(lifecycle, log));
    ready = Promise.resolve(options.mai).then(async (mai) => (routes = byMethod(await importedMaiRoutes(mai, lifecycle, log))));
    ready.catch(() => {}); // the owner of the promise reports a failed build; requests get it as their error
  } else if (options.mai instanceof Promise) {
    ready = options.mai.then((mai) => (routes = byMethod(given(mai, lifecycle, log))));
    ready.catch(() => {}); // as above
    early = earlyRoutes(() => byMethod(given(maiNotReady, lifecycle, log)), log);
  } else {
    routes = byMethod(given(options.mai, lifecycle, log));
    ready = Promise.resolve(routes);
  }
  const known = () => [...(routes ?? early ?? []).keys()];

  const requests = connection.onRequest(async (method, params, token) => {
    if (lifecycle.shutdownRequested && method !== Methods.shutdown) {
      throw protocolError(RpcCodes.invalidRequest, `Invalid Request: the server is shutting down (shutdown was received), so ${method} is refused; send the exit notification.`);
    }
    let route = routes?.get(method) ?? early?.get(method);
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
