/**
 * What goes over the host's socket before the protocol: one hello line each way. The client's
 * names the face it wants (Mai's methods or MCP's), its Mai version and who it is; the host's says
 * whether it serves it. After the hellos the bytes are the protocol in the client's framing
 * (framing.ts detects it per connection). A connection that starts with `{`, `[` or
 * `Content-Length` instead is a direct JSON-RPC client of Mai's methods (no hello). Free of zod,
 * vscode-jsonrpc and Mai's core: the forwarder (`mai serve`) loads this and little else.
 */
import { errorResponse, maiErrorObject } from '../error-codes.ts';

/** The first bytes of a hello line; the number is the wire's version, bumped on any change to the hello. */
export const HELLO_PREFIX = 'MAI-HOST/1 ';

export type Face = 'mai' | 'mcp';

export interface ClientHello {
  face: Face;
  /** The client's Mai version: a host of another version refuses it (the client then starts its own). */
  version: string;
  /** The client's build (rpc/host/build.ts): a host whose own build was replaced on disk leaves to a new host. */
  build?: string;
  /** Who connects (`mai serve`, `mai chat`…), until `initialize` names the editor. */
  name: string;
  pid: number;
  /** `initialize`'s clientInfo from an earlier connection (a forwarder reconnecting after its host died). */
  clientInfo?: { name: string; version?: string };
}

/** `retired`: the host has left its socket (its build was replaced on disk): the client starts a new host there. */
export type HostHello = { ok: true; version: string; pid: number; build?: string } | { ok: false; version: string; pid: number; error: string; build?: string; retired?: boolean };

export function helloLine(hello: ClientHello | HostHello): string {
  return `${HELLO_PREFIX}${JSON.stringify(hello)}\n`;
}

/** The hello in a first line, or why it is not one. */
export function parseHello<T extends ClientHello | HostHello>(line: string): T | string {
  if (!line.startsWith(HELLO_PREFIX)) return `expected "${HELLO_PREFIX}{…}" as the first line, got "${line.slice(0, 60)}"`;
  try {
    const value = JSON.parse(line.slice(HELLO_PREFIX.length)) as unknown;
    if (typeof value === 'object' && value !== null && typeof (value as { version?: unknown }).version === 'string') return value as T;
    return 'the hello has no version';
  } catch (error) {
    return `the hello is not JSON: ${(error as Error).message}`;
  }
}

/** How a connection starts: a hello, a direct JSON-RPC client, or something else (refused). */
export function openingOf(first: number): 'hello' | 'json-rpc' | 'unknown' {
  if (first === 0x4d /* M */) return 'hello';
  if (first === 0x7b /* { */ || first === 0x5b /* [ */ || first === 0x43 /* C */ || first === 0x63 /* c */) return 'json-rpc';
  return 'unknown';
}

/** The error reply the forwarder makes for a request the host took and never answered. */
export function hostLostReply(id: string | number, why: string): string {
  const message = `Mai's shared host stopped while answering this request (${why}); nothing of the turn was stored and the conversation on disk is intact. Retry: the next request starts a new host.`;
  return JSON.stringify(errorResponse(id, maiErrorObject('host-lost', message, true)));
}
