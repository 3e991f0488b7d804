/** Mai as an MCP server (`mai serve --mcp`): the face serveStreams takes, its tools and protocol. */
export * from './protocol.ts';
export { mcpFace, mcpRoutes, toolErrorResult } from './server.ts';
export { maiTools, type MaiTool, type ToolContext } from './tools.ts';
export * from './tool-schemas.ts';
