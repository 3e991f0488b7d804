/**
 * What a route is: a method, the check of its params and its handler — the shape the server
 * (rpc/server.ts) dispatches to. Free of zod at run time (the zod types are only types here), so
 * the server and the lifecycle routes (rpc/lifecycle.ts) load without it; the routes of Mai's other
 * methods (rpc/handlers.ts) and MCP's (rpc/mcp/server.ts) use zod schemas, which fit ParamsSchema.
 */
import type { CancellationToken, MessageConnection } from 'vscode-jsonrpc/node';
import type { z } from 'zod';
import type { Logger } from '../core/log.ts';
import type { Mai } from '../core/mai.ts';
import type { ParamsIssues } from './errors.ts';
import type { RequestDefinition } from './protocol.ts';

export interface RequestContext {
  token: CancellationToken;
  connection: MessageConnection;
}

/** The outcome of checking params, shaped like zod's safeParse result. */
export type ParamsCheck<T> = { success: true; data: T } | { success: false; error: ParamsIssues };

/** What checks a method's params: any zod schema, or a hand-written check (rpc/lifecycle.ts). */
export interface ParamsSchema<T = unknown> {
  safeParse(value: unknown): ParamsCheck<T>;
}

export interface Route {
  readonly method: string;
  readonly params: ParamsSchema;
  run(params: unknown, context: RequestContext): Promise<unknown>;
}

/** Pairs a definition with its handler; the handler is checked against the definition's types. */
export function route<M extends string, S extends z.ZodType, R>(
  definition: RequestDefinition<M, S, R>,
  handler: (params: z.infer<S>, context: RequestContext) => R | Promise<R>,
): Route {
  return checkedRoute(definition.method, definition.params as ParamsSchema<z.infer<S>>, handler);
}

/** A route from a method name, a params check and a handler typed by them. */
export function checkedRoute<P, R>(method: string, params: ParamsSchema<P>, handler: (params: P, context: RequestContext) => R | Promise<R>): Route {
  return { method, params, run: async (value, context) => handler(value as P, context) };
}

/** The server's state the lifecycle methods change. */
export interface Lifecycle {
  shutdownRequested: boolean;
}

/**
 * The routes of one protocol (Mai's own, MCP's): its lifecycle, answered at once, before Mai is
 * built (those handlers never touch Mai), and the methods that need Mai, made once it is built.
 */
export interface RouteSet {
  lifecycle(lifecycle: Lifecycle, log: Logger): Route[];
  withMai(mai: Mai, lifecycle: Lifecycle, log: Logger): Route[] | Promise<Route[]>;
}
