/**
 * One HTTP request over node:http(s), the way every HTTP backend call and load probe is sent: the
 * chat stream (sse-post.ts), the JSON calls of the native APIs and llama.cpp's extras (http.ts),
 * /v1/models, and the load probes (load-probes/bounded-fetch.ts). Not the global fetch: on Node it
 * is undici, bundled inside Node and compiled on first use — about 30 ms of a cold start's CPU
 * (the first /v1/models or /props of every `mai` process), plus its per-request cost (sse-post.ts).
 *
 * What fetch did, kept: the caller's signal ends the request at once (and the connection, so the
 * server sees its client go); redirects are followed — for a GET any 3xx with a Location, for a
 * request with a body 307 and 308 only (the others would turn it into a GET, which a backend's
 * POST never means: the caller's `refusedRedirect` names where it points) — without credentials
 * once they leave the configured origin. node:https is imported only for an https URL.
 */
import { Buffer } from 'node:buffer';
import { request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { extend } from '../../core/extend.ts';

export interface NodeHttpRequest {
  method: 'GET' | 'POST' | 'DELETE';
  headers?: Readonly<Record<string, string>> | undefined;
  /** The body, already serialised (sent with its content-length). */
  body?: string | undefined;
  signal?: AbortSignal | undefined;
  /** How long each hop's server may take to send the response's headers; the error is `timedOut()`. */
  timeoutMs?: number | undefined;
  timedOut?: (() => Error) | undefined;
  /** The error when `signal` aborts (default: the signal's reason). */
  aborted?: (() => Error) | undefined;
  /** The error for a redirect not followed (a 301/302/303 of a request with a body, or too many hops). */
  refusedRedirect?: ((status: number, location: string) => Error) | undefined;
}

/** As many hops as a backend could sensibly need (fetch allows 20; a loop fails sooner here). */
const MAX_REDIRECTS = 5;
const CREDENTIALS = new Set(['authorization', 'proxy-authorization', 'cookie']);

type Send = (url: URL, options: RequestOptions) => ClientRequest;
let https: Send | undefined;
async function sender(url: URL): Promise<Send> {
  if (url.protocol !== 'https:') return httpRequest;
  https ??= (await import('node:https')).request;
  return https;
}

/**
 * On Deno, every request on a connection of its own. Deno's node:http pools connections, and a
 * request destroyed on a pooled one (a caller's abort: a client that detached, a timeout) was sent
 * to the server a second time as the next request went out — a cancelled chat generated twice
 * (test/backend-node-http.test.ts). On Node the agent's keep-alive pool stays: a connection per
 * turn would cost every turn its TCP handshake.
 */
const ownConnection: Pick<RequestOptions, 'agent'> = 'Deno' in globalThis ? { agent: false } : {};

function withoutCredentials(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !CREDENTIALS.has(name.toLowerCase())));
}

function abortError(request: NodeHttpRequest): Error {
  if (request.aborted) return request.aborted();
  const reason: unknown = request.signal?.reason;
  return reason instanceof Error ? reason : new DOMException('The operation was aborted.', 'AbortError');
}

/**
 * One hop: the response once its headers arrived (any status). Settled by the first of the
 * response, an error, the timeout and the signal; the last two settle it at once rather than
 * waiting for the destroyed request's own error (Deno's node:http may not emit one for a request
 * destroyed before it connected).
 */
function sendOnce(send: Send, url: URL, request: NodeHttpRequest, headers: Readonly<Record<string, string>>): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const signal = request.signal;
    if (signal?.aborted) {
      reject(abortError(request));
      return;
    }
    const body = request.body;
    const out = send(url, {
      method: request.method,
      ...ownConnection,
      headers: body === undefined ? headers : extend(headers, { 'content-length': String(Buffer.byteLength(body)) }),
    });
    let settled = false;
    const finish = () => {
      settled = true;
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', abort);
    };
    const fail = (error: unknown) => {
      if (settled) return;
      finish();
      reject(error);
    };
    const stop = (error: Error) => {
      fail(error);
      out.destroy(error);
    };
    const timeoutMs = request.timeoutMs;
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => stop(request.timedOut?.() ?? new Error(`no response headers within ${timeoutMs} ms`)), timeoutMs);
    const abort = () => stop(abortError(request));
    signal?.addEventListener('abort', abort, { once: true });
    out.once('response', (response) => {
      if (settled) {
        response.destroy();
        return;
      }
      finish();
      resolve(response);
    });
    // Kept for the request's life: an error after the response (the socket) must not go unheard.
    out.on('error', fail);
    out.end(body);
  });
}

/**
 * Sends the request, following redirects, and resolves with the final response once its headers
 * arrived, whatever its status (the caller reads or destroys it). Rejects with the transport's
 * error as node:http reports it (ECONNREFUSED…), `timedOut()`, `aborted()` or `refusedRedirect()`.
 */
export async function nodeHttp(url: string, request: NodeHttpRequest): Promise<IncomingMessage> {
  let target = new URL(url);
  let headers = request.headers ?? {};
  for (let hops = 0; ; hops++) {
    const response = await sendOnce(await sender(target), target, request, headers);
    const status = response.statusCode ?? 0;
    const location = response.headers.location;
    if (status < 300 || status >= 400 || !location) return response;
    response.destroy();
    const next = new URL(location, target);
    const keepsMethod = status === 307 || status === 308 || request.body === undefined;
    if (!keepsMethod || hops >= MAX_REDIRECTS) {
      throw request.refusedRedirect?.(status, next.href) ?? new Error(`${request.method} ${target.pathname} redirects (${status} to ${next.href}), not followed`);
    }
    if (next.origin !== target.origin) headers = withoutCredentials(headers);
    target = next;
  }
}

/** Whether the response's status is a success (2xx): the one reading of it every caller of nodeHttp makes. */
export function succeeded(response: IncomingMessage): boolean {
  const status = response.statusCode ?? 0;
  return status >= 200 && status < 300;
}

/**
 * The response's body as text, up to `maxBytes`: past it `over(bytes)` is thrown, or without `over`
 * the text so far is returned (an error body's excerpt); either way the connection is closed. The
 * signal, aborting, ends the read with `aborted()`. The response is always consumed or destroyed.
 */
export async function readText(response: IncomingMessage, options: { maxBytes?: number; over?: (bytes: number) => Error; signal?: AbortSignal | undefined; aborted?: () => Error } = {}): Promise<string> {
  const { signal } = options;
  const abort = () => response.destroy(options.aborted?.() ?? abortError({ method: 'GET', signal }));
  signal?.addEventListener('abort', abort, { once: true });
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    if (signal?.aborted) abort();
    for await (const chunk of response) {
      const bytes = chunk as Buffer;
      size += bytes.byteLength;
      if (options.maxBytes !== undefined && size > options.maxBytes) {
        if (options.over) throw options.over(size);
        chunks.push(bytes.subarray(0, bytes.byteLength - (size - options.maxBytes)));
        size = options.maxBytes;
        break;
      }
      chunks.push(bytes);
    }
  } finally {
    signal?.removeEventListener('abort', abort);
    if (!response.complete) response.destroy();
  }
  return Buffer.concat(chunks, size).toString('utf8');
}
