/**
 * The lifecycle of Mai's protocol — `initialize`, `shutdown`, `exit`, `$/cancelRequest` — declared
 * once, here, without zod: `mai serve` answers `initialize` before it loads zod and the other
 * methods' schemas (rpc/protocol.ts re-exports all of this and wraps the two params checks as zod
 * schemas for its request definitions). The checks answer exactly what the equivalent zod schemas
 * would (the same issues, paths and messages), so invalid params read the same for every method.
 */
import { NotificationType } from 'vscode-jsonrpc/node';
import type { Logger } from '../core/log.ts';
import { Methods, requestMethods } from './methods.ts';
import type { ParamsIssue } from './errors.ts';
import { checkedRoute, type Lifecycle, type ParamsCheck, type ParamsSchema, type Route } from './route.ts';
import { maiVersion } from './version.ts';

// ---- params ------------------------------------------------------------------------------------

/** Params of a method that takes none: an empty object (or nothing at all on the wire). */
export type NoParams = Record<string, never>;

/** Loose on purpose: LSP-style clients send more (processId, rootUri, locale…), which Mai ignores. */
export interface InitializeParams {
  clientInfo?: { name: string; version?: string; [key: string]: unknown };
  capabilities?: Record<string, unknown>;
  [key: string]: unknown;
}

/** How zod names the type of what it got ("received …"). */
function received(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number' && Number.isNaN(value)) return 'NaN';
  return typeof value;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function expected(path: readonly PropertyKey[], type: string, value: unknown): ParamsIssue {
  return { path, message: `Invalid input: expected ${type}, received ${received(value)}` };
}

function checked<T>(value: unknown, issues: ParamsIssue[]): ParamsCheck<T> {
  return issues.length === 0 ? { success: true, data: value as T } : { success: false, error: { issues } };
}

/** `{}` and nothing else (zod's strictObject({})). */
export const noParamsCheck: ParamsSchema<NoParams> = {
  safeParse(value) {
    if (!isObject(value)) return checked(value, [expected([], 'object', value)]);
    const keys = Object.keys(value);
    if (keys.length === 0) return checked(value, []);
    return checked(value, [{ path: [], message: `Unrecognized key${keys.length > 1 ? 's' : ''}: ${keys.map((k) => `"${k}"`).join(', ')}` }]);
  },
};

/** clientInfo `{name, version?}` and capabilities (an object) when given; anything else passes. */
export const initializeParamsCheck: ParamsSchema<InitializeParams> = {
  safeParse(value) {
    if (!isObject(value)) return checked(value, [expected([], 'object', value)]);
    const issues: ParamsIssue[] = [];
    const { clientInfo, capabilities } = value;
    if (clientInfo !== undefined) {
      if (!isObject(clientInfo)) issues.push(expected(['clientInfo'], 'object', clientInfo));
      else {
        if (typeof clientInfo.name !== 'string') issues.push(expected(['clientInfo', 'name'], 'string', clientInfo.name));
        if (clientInfo.version !== undefined && typeof clientInfo.version !== 'string') issues.push(expected(['clientInfo', 'version'], 'string', clientInfo.version));
      }
    }
    if (capabilities !== undefined && !isObject(capabilities)) issues.push(expected(['capabilities'], 'record', capabilities));
    return checked(value, issues);
  },
};

// ---- results and notifications -----------------------------------------------------------------

export interface InitializeResult {
  serverInfo: { name: 'mai'; version: string };
  capabilities: {
    /** Every request method the server answers. */
    methods: string[];
    /** chat/send streams `$/progress` when given a progressToken. */
    progress: boolean;
    /** `$/cancelRequest` aborts a turn. */
    cancellation: boolean;
    /** Arrays of requests are answered with an array. */
    batch: boolean;
    framings: Array<'content-length' | 'ndjson'>;
  };
}

/** After `shutdown` the server answers only `exit`; `exit` then ends it with code 0 (1 without shutdown). */
export const ExitNotification = { method: Methods.exit, type: new NotificationType<void>(Methods.exit) } as const;

export interface CancelParams {
  id: string | number;
}
/** vscode-jsonrpc sends it when a request's CancellationToken fires; the reply is then error -32800. */
export const CancelNotification = { method: Methods.cancelRequest, type: new NotificationType<CancelParams>(Methods.cancelRequest) } as const;

/**
 * Another way to cancel a request (the conformance layer honours it besides `$/cancelRequest`),
 * e.g. MCP's `notifications/cancelled {requestId}`: the client forgets the request at once, so
 * the cancelled request gets no reply ("SHOULD NOT send a response for the cancelled request").
 */
export interface CancelConvention {
  method: string;
  /** The param that names the request's id. */
  idParam: string;
  /** Whether the cancelled request is still answered (-32800). */
  reply: boolean;
}

// ---- routes --------------------------------------------------------------------------------------

/** `initialize` and `shutdown`: answered without Mai, so before it is built. */
export function lifecycleRoutes(lifecycle: Lifecycle, log: Logger): Route[] {
  return [
    checkedRoute(Methods.initialize, initializeParamsCheck, (params): InitializeResult => {
      if (params.clientInfo) log.info(`client: ${params.clientInfo.name} ${params.clientInfo.version ?? ''}`.trim());
      return {
        serverInfo: { name: 'mai', version: maiVersion() },
        capabilities: { methods: [...requestMethods], progress: true, cancellation: true, batch: true, framings: ['content-length', 'ndjson'] },
      };
    }),
    checkedRoute(Methods.shutdown, noParamsCheck, (): null => {
      lifecycle.shutdownRequested = true;
      return null;
    }),
  ];
}
