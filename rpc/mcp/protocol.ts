/**
 * The part of the Model Context Protocol Mai answers (`mai serve --mcp`), declared once like
 * rpc/mai-protocol.ts: method names, the protocol versions Mai speaks, zod schemas of the params (the
 * server validates with them; their types are inferred) and the result types of the spec
 * (https://modelcontextprotocol.io/specification/2025-06-18). MCP rides on the same stack as Mai's
 * own protocol: newline-delimited JSON-RPC 2.0 (rpc/framing.ts), the conformance layer, the server.
 */
import { NotificationType } from 'vscode-jsonrpc/node';
import { z } from '../../core/zod.ts';
import type { CancelConvention } from '../conformance.ts';
import { defineRequest, ProgressToken } from '../mai-protocol.ts';

/** Newest first. Mai answers the client's version when it is one of these, else the newest. */
export const mcpProtocolVersions = ['2025-06-18', '2025-03-26', '2024-11-05'] as const;
export type McpProtocolVersion = (typeof mcpProtocolVersions)[number];
export const latestMcpProtocolVersion: McpProtocolVersion = mcpProtocolVersions[0];

/** The version negotiation of `initialize`: the client's if Mai speaks it, else Mai's newest. */
export function negotiateProtocolVersion(requested: string): McpProtocolVersion {
  return mcpProtocolVersions.find((v) => v === requested) ?? latestMcpProtocolVersion;
}

/** `_meta` of a request: a progress token asks for `notifications/progress`. */
const RequestMeta = z.looseObject({ progressToken: ProgressToken.optional() });

// ---- lifecycle -----------------------------------------------------------------------------------

export const McpInitializeParams = z.looseObject({
  protocolVersion: z.string({ error: 'initialize needs "protocolVersion", the MCP version the client speaks (e.g. "2025-06-18")' }),
  capabilities: z.looseObject({}).optional(),
  clientInfo: z.looseObject({ name: z.string(), version: z.string().optional() }).optional(),
});
export type McpInitializeParams = z.infer<typeof McpInitializeParams>;

export interface McpInitializeResult {
  protocolVersion: McpProtocolVersion;
  capabilities: { tools: { listChanged: boolean } };
  serverInfo: { name: 'mai'; title: string; version: string };
  instructions: string;
}
export const McpInitializeRequest = defineRequest<McpInitializeResult>()('initialize', McpInitializeParams);

/** The client's answer to the initialize result; nothing is owed back. */
export const InitializedNotification = { method: 'notifications/initialized' } as const;

export const PingParams = z.looseObject({ _meta: RequestMeta.optional() });
export const PingRequest = defineRequest<Record<string, never>>()('ping', PingParams);

// ---- tools ---------------------------------------------------------------------------------------

/** A JSON Schema object describing a tool's arguments or its structured result (MCP: type "object"). */
export interface ObjectJsonSchema {
  type: 'object';
  properties?: Record<string, unknown>;
  required?: string[];
  [keyword: string]: unknown;
}

export interface McpTool {
  name: string;
  title: string;
  description: string;
  inputSchema: ObjectJsonSchema;
  outputSchema?: ObjectJsonSchema;
  annotations?: { title?: string; readOnlyHint?: boolean; destructiveHint?: boolean; idempotentHint?: boolean; openWorldHint?: boolean };
}

export const ToolsListParams = z.looseObject({ cursor: z.string().optional(), _meta: RequestMeta.optional() });
export interface ToolsListResult {
  tools: McpTool[];
}
export const ToolsListRequest = defineRequest<ToolsListResult>()('tools/list', ToolsListParams);

export const ToolsCallParams = z.looseObject({
  name: z.string({ error: 'tools/call needs "name", the tool to call (tools/list lists them)' }),
  arguments: z.record(z.string(), z.unknown(), { error: '"arguments" must be an object of the tool\'s arguments' }).optional(),
  _meta: RequestMeta.optional(),
});
export type ToolsCallParams = z.infer<typeof ToolsCallParams>;

export interface TextContent {
  type: 'text';
  text: string;
}

export interface CallToolResult {
  content: TextContent[];
  /** Matches the tool's outputSchema when it declares one (never set on an error). */
  structuredContent?: Record<string, unknown>;
  /** The tool ran and failed; `content` says why in words a model or person can act on. */
  isError?: boolean;
}
export const ToolsCallRequest = defineRequest<CallToolResult>()('tools/call', ToolsCallParams);

// ---- progress and cancellation -------------------------------------------------------------------

export interface McpProgressParams {
  progressToken: ProgressToken;
  /** Grows with every notification (Mai: the number of streamed events so far). */
  progress: number;
  total?: number;
  /** A chat delta: the next piece of the answer's text. */
  message?: string;
  _meta?: Record<string, unknown>;
}
export const McpProgressNotification = {
  method: 'notifications/progress',
  type: new NotificationType<McpProgressParams>('notifications/progress'),
} as const;

/**
 * `notifications/cancelled {requestId, reason?}` aborts the request. The client has forgotten it,
 * so it gets no reply (the conformance layer drops the reply).
 */
export const mcpCancelConvention: CancelConvention = { method: 'notifications/cancelled', idParam: 'requestId', reply: false };
