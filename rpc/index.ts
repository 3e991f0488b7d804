/** What clients and embedders of Mai's JSON-RPC interface import. */
export * from './mai-protocol.ts';
export { RpcCodes, rpcCodeFor, type RpcErrorData } from './error-codes.ts';
export { configErrorCodes, toResponseError } from './errors.ts';
export { MaiClient, cancellationFrom, type ChatCallOptions } from './client.ts';
export { serveStreams, type ServeOptions, type ServeOutcome } from './serve-streams.ts';
export { linkInProcess, type InProcessLink } from './in-process.ts';
export { attachMaiServer, type MaiServerOptions } from './dispatcher.ts';
export { route, type RequestContext, type Route, type Routes, type Session } from './route.ts';
export { encodeFrame, FrameDecoder, type Framing } from './framing.ts';
export { ConformanceLayer, type CancelConvention } from './conformance.ts';
