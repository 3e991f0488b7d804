/**
 * Mai as an MCP server: the MCP methods as routes for the same server (rpc/dispatcher.ts), served on the
 * same framing and conformance layer (rpc/serve-streams.ts) as Mai's own protocol — `mai serve --mcp`.
 * The lifecycle (initialize with version negotiation, notifications/initialized, ping), tools/list
 * and tools/call. A tool that runs and fails is an `isError` result the agent's model can read;
 * what the request itself got wrong (unknown tool, bad arguments) is a JSON-RPC error.
 */
import { ErrorCodes, MaiError } from '../../core/errors.ts';
import type { Logger } from '../../core/log.ts';
import { RpcCodes } from '../error-codes.ts';
import { describeErrorData, invalidParams, protocolError, rpcErrorOf } from '../errors.ts';
import { route, type Routes } from '../route.ts';
import type { ServerFace } from '../serve-streams.ts';
import { maiVersion } from '../version.ts';
import {
  mcpCancelConvention,
  McpInitializeRequest,
  negotiateProtocolVersion,
  PingRequest,
  ToolsCallRequest,
  ToolsListRequest,
  type CallToolResult,
  type ToolsCallParams,
} from './protocol.ts';
import { maiTools, type MaiTool, type ToolContext } from './tools.ts';

const instructions =
  'Mai answers with local language models on this machine. Use the chat tool to hand a self-contained sub-task to a ' +
  'local model (Mai picks the model that fits now and falls back when one fails); models and status show what is available.';

/** Failures that are about the request, not the tool's work: they stay JSON-RPC errors. */
const protocolFailures: ReadonlySet<string> = new Set([ErrorCodes.cancelled, ErrorCodes.invalidParams, ErrorCodes.internal]);

/** A failed tool run as MCP asks: `isError` with a message that names the problem (and each model tried). */
export function toolErrorResult(error: MaiError): CallToolResult {
  const why = describeErrorData(rpcErrorOf(error).data);
  const text = `${error.message} [${error.code}${error.retryable ? ', retryable' : ''}]${why ? `\n${why.trimEnd()}` : ''}`;
  return { content: [{ type: 'text', text }], isError: true };
}

async function callTool(tools: ReadonlyMap<string, MaiTool>, params: ToolsCallParams, context: Omit<ToolContext, 'progressToken'>, log: Logger): Promise<CallToolResult> {
  const tool = tools.get(params.name);
  if (!tool) {
    const names = [...tools.keys()];
    throw protocolError(RpcCodes.invalidParams, `Unknown tool "${params.name}". Mai's tools are ${names.join(', ')} (tools/list describes them).`, {
      tool: params.name,
      tools: names,
    });
  }
  const args = tool.input.safeParse(params.arguments ?? {});
  if (!args.success) throw invalidParams(`tools/call ${params.name}`, args.error);
  try {
    return await tool.run(args.data, { ...context, progressToken: params._meta?.progressToken });
  } catch (error) {
    const failure = MaiError.from(error);
    if (protocolFailures.has(failure.code)) throw failure;
    log.debug(`tool ${params.name} failed: ${failure.code}: ${failure.message}`);
    return toolErrorResult(failure);
  }
}

/** The MCP methods, for rpc/dispatcher.ts (its dispatcher validates params and turns throws into errors). */
export const mcpRoutes: Routes = ({ mai, log }) => {
  // The tools need Mai; initialize and ping are answered while it is built.
  const tools = mai.then((built) => new Map(maiTools(built, log).map((tool) => [tool.descriptor.name, tool])));
  tools.catch(() => {}); // a failed build is the tool requests' error
  return [
    route(McpInitializeRequest, (params) => {
      const protocolVersion = negotiateProtocolVersion(params.protocolVersion);
      const client = params.clientInfo ? `${params.clientInfo.name} ${params.clientInfo.version ?? ''}`.trim() : 'an unnamed client';
      log.info(`MCP client: ${client}, protocol ${params.protocolVersion}${protocolVersion === params.protocolVersion ? '' : ` (Mai answers ${protocolVersion})`}`);
      return {
        protocolVersion,
        capabilities: { tools: { listChanged: false } },
        serverInfo: { name: 'mai' as const, title: 'Mai', version: maiVersion() },
        instructions,
      };
    }),
    route(PingRequest, () => ({})),
    route(ToolsListRequest, async () => ({ tools: [...(await tools).values()].map((tool) => tool.descriptor) })),
    route(ToolsCallRequest, async (params, context) => callTool(await tools, params, context, log)),
  ];
};

/** What `mai serve --mcp` hands serveStreams: the MCP routes and MCP's way to cancel. */
export const mcpFace: ServerFace = { routes: mcpRoutes, cancel: mcpCancelConvention };
