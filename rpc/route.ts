/**
 * What a route is: a method, the zod schema of its params and its handler — the shape the server
 * (rpc/dispatcher.ts) dispatches to. A protocol (Mai's own: rpc/handlers.ts; MCP's: rpc/mcp/server.ts)
 * is a function from the session to its routes.
 */
import type { CancellationToken, MessageConnection } from 'vscode-jsonrpc/node';
import type { z } from 'zod';
import type { Logger } from '../core/log.ts';
import type { Mai } from '../core/mai.ts';
import type { RequestDefinition } from './mai-protocol.ts';

export interface RequestContext {
  token: CancellationToken;
  connection: MessageConnection;
}

export interface Route {
  readonly method: string;
  readonly params: z.ZodType;
  run(params: unknown, context: RequestContext): Promise<unknown>;
}

/** Pairs a definition with its handler; the handler is checked against the definition's types. */
export function route<M extends string, S extends z.ZodType, R>(
  definition: RequestDefinition<M, S, R>,
  handler: (params: z.infer<S>, context: RequestContext) => R | Promise<R>,
): Route {
  return { method: definition.method, params: definition.params, run: async (value, context) => handler(value as z.infer<S>, context) };
}

/** One client's session, as the routes see it. */
export interface Session {
  /**
   * Mai, once built: `mai serve` serves while Mai's modules load and its config is read, so the
   * methods that need no Mai (initialize, shutdown, ping) do not wait for it; the others await it
   * (a failed build is their error).
   */
  mai: Promise<Mai>;
  log: Logger;
  /** `shutdown` arrived: the server refuses everything but `exit` from now on. */
  shutdownRequested: boolean;
}

/** A protocol's routes for one session. */
export type Routes = (session: Session) => Route[];
