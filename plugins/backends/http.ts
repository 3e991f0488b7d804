/**
 * The small HTTP client the native-API backends (Ollama, LM Studio) share: one request with a
 * bound on how long the server may take, the caller's AbortSignal, and every failure turned into
 * a MaiError of the right kind (non-2xx by status and body, refused connection, timeout). Over
 * node:http(s) (node-http.ts says why not fetch).
 */
import type { IncomingMessage } from 'node:http';
import { ErrorCodes, MaiError } from '../../core/errors.ts';
import { nodeHttp, readText, succeeded } from './node-http.ts';
import { errorFromStatus, normalizeError, type ErrorContext } from './normalize-error.ts';

export interface HttpRequest extends ErrorContext {
  method?: 'GET' | 'POST' | 'DELETE';
  body?: unknown;
  headers?: Readonly<Record<string, string>>;
  signal?: AbortSignal;
  /** How long the server may take: until the headers for a stream, until the whole body otherwise. */
  timeoutMs: number;
}

export interface OpenResponse {
  /** The 2xx response, its headers arrived; its body is the caller's to read (or destroy). */
  response: IncomingMessage;
  /** Detaches the caller's signal once the body is consumed. */
  release(): void;
}

function describe(url: string, method: string): string {
  try {
    return `${method} ${new URL(url).pathname}`;
  } catch {
    return `${method} ${url}`;
  }
}

/**
 * The MaiError of a non-2xx response, by its status, its body (read as far as `read` allows; an
 * unreadable body is none) and its Retry-After. The response is consumed or destroyed.
 */
export async function errorFromResponse(response: IncomingMessage, context: ErrorContext, read: Parameters<typeof readText>[1] = {}): Promise<MaiError> {
  const body = await readText(response, read).catch(() => '');
  const retryAfter = response.headers['retry-after'];
  return errorFromStatus({ ...context, status: response.statusCode ?? 0, body, retryAfter: typeof retryAfter === 'string' ? retryAfter : null });
}

/**
 * Sends the request (node-http.ts) and returns the response once its headers arrived with a 2xx
 * status. With `readBody`, the timeout also covers reading the body, which `readBody` returns.
 */
async function exchange<T>(url: string, request: HttpRequest, readBody: ((response: IncomingMessage, signal: AbortSignal) => Promise<T>) | null): Promise<{ response: IncomingMessage; value: T | undefined; release(): void }> {
  const method = request.method ?? (request.body === undefined ? 'GET' : 'POST');
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, request.timeoutMs);
  const onAbort = () => controller.abort(request.signal?.reason);
  if (request.signal?.aborted) onAbort();
  else request.signal?.addEventListener('abort', onAbort, { once: true });
  // The caller's signal keeps ending a streamed body after the headers (the connection closes).
  let streamed: IncomingMessage | undefined;
  const closeStream = () => streamed?.destroy(controller.signal.reason as Error);
  const release = () => {
    request.signal?.removeEventListener('abort', onAbort);
    controller.signal.removeEventListener('abort', closeStream);
  };
  const context: ErrorContext = {
    backend: request.backend,
    ...(request.model ? { model: request.model } : {}),
    ...(request.secrets ? { secrets: request.secrets } : {}),
  };
  try {
    const response = await nodeHttp(url, {
      method,
      headers: { accept: 'application/json', ...(request.body === undefined ? {} : { 'content-type': 'application/json' }), ...request.headers },
      ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
      signal: controller.signal,
    });
    if (!succeeded(response)) throw await errorFromResponse(response, context, { signal: controller.signal });
    const value = readBody ? await readBody(response, controller.signal) : undefined;
    if (readBody) release();
    else {
      streamed = response;
      controller.signal.addEventListener('abort', closeStream, { once: true });
    }
    return { response, value, release };
  } catch (error) {
    release();
    if (timedOut) {
      throw new MaiError(ErrorCodes.timeout, `${request.backend} did not answer ${describe(url, method)} within ${request.timeoutMs} ms.`, {
        cause: error,
        data: { backend: request.backend, ...(request.model ? { model: request.model } : {}), timeoutMs: request.timeoutMs },
      });
    }
    throw normalizeError(error, context);
  } finally {
    clearTimeout(timer);
  }
}

/** A request whose JSON answer is read whole (listings, load, unload). */
export async function httpJson<T>(url: string, request: HttpRequest): Promise<T> {
  const { value } = await exchange(url, request, async (response, signal) => {
    const text = await readText(response, { signal });
    try {
      return (text.trim() === '' ? {} : JSON.parse(text)) as T;
    } catch (cause) {
      throw new MaiError(ErrorCodes.serverError, `${request.backend} answered ${describe(url, request.method ?? 'GET')} with a body that is not JSON: ${text.slice(0, 120)}`, {
        cause,
        data: { backend: request.backend },
      });
    }
  });
  return value as T;
}

/** A request whose answer is streamed: the response is returned as soon as its headers arrive. */
export async function httpStream(url: string, request: HttpRequest): Promise<OpenResponse> {
  const { response, release } = await exchange<never>(url, request, null);
  return { response, release };
}
