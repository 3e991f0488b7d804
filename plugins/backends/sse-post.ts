/**
 * A POST whose answer is a stream of server-sent events (an OpenAI-compatible streamed chat), over
 * node:http(s) with the events decoded by eventsource-parser. The openai backend sends its chat
 * turns this way rather than through the `openai` package: the package's request plumbing and
 * undici's fetch (WHATWG streams, a body tee per request) cost about 2.1 ms of main-thread CPU per
 * streamed request on this project's machines, this about 0.9 ms, and a batch of 200 turns a second
 * is bound by that thread (bench/suites/batch.js).
 *
 * What the package did, kept: the request timeout bounds the wait for the response's headers; the
 * caller's signal, and a caller that stops reading, close the connection (the server sees its
 * client go); an `{"error": …}` event is a failure; `[DONE]` ends the answer; every failure is a
 * MaiError of the right kind (normalize-error.ts), secrets scrubbed. Redirects that keep the
 * method (307, 308) are followed, as fetch did, without the key when they leave the backend's origin;
 * any other is an error that names where it points.
 */
import { Buffer } from 'node:buffer';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createParser } from 'eventsource-parser';
import { ErrorCodes, MaiError } from '../../core/errors.ts';
import { errorFromStatus, errorFromStreamBody, normalizeError, redact, type ErrorContext } from './normalize-error.ts';

export interface SsePost extends ErrorContext {
  url: string;
  /** The JSON body, already serialised. */
  body: string;
  headers: Readonly<Record<string, string>>;
  signal: AbortSignal;
  /** How long the server may take to start answering (until the response's headers). */
  timeoutMs: number;
}

const MAX_REDIRECTS = 5;
/** Enough of an error body to say what went wrong. */
const ERROR_BODY_BYTES = 64 * 1024;

/**
 * The response of a POST once its headers arrived (any status). Settled by the first of: the
 * response, an error, the timeout, the caller's signal; the last two settle it at once rather than
 * waiting for the destroyed request's own error (Deno's node:http may not emit one for a request
 * destroyed before it connected).
 */
function send(post: SsePost, url: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    if (post.signal.aborted) {
      reject(cancelled(post));
      return;
    }
    const target = new URL(url);
    const request = (target.protocol === 'https:' ? httpsRequest : httpRequest)(target, {
      method: 'POST',
      headers: { ...post.headers, 'content-type': 'application/json', accept: 'application/json', 'content-length': String(Buffer.byteLength(post.body)) },
    });
    let settled = false;
    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      post.signal.removeEventListener('abort', abort);
      reject(error);
    };
    const stop = (error: Error) => {
      fail(error);
      request.destroy(error);
    };
    const timer = setTimeout(() => {
      stop(new MaiError(ErrorCodes.timeout, `${post.backend} did not start answering POST ${target.pathname} within ${post.timeoutMs} ms.`, {
        data: { backend: post.backend, ...(post.model ? { model: post.model } : {}), timeoutMs: post.timeoutMs },
      }));
    }, post.timeoutMs);
    const abort = () => stop(cancelled(post));
    post.signal.addEventListener('abort', abort, { once: true });
    request.once('response', (response) => {
      if (settled) {
        response.destroy();
        return;
      }
      settled = true;
      clearTimeout(timer);
      post.signal.removeEventListener('abort', abort);
      resolve(response);
    });
    // Kept for the request's life: an error after the response (the socket) must not go unheard.
    request.on('error', fail);
    request.end(post.body);
  });
}

async function readText(response: IncomingMessage): Promise<string> {
  let text = '';
  response.setEncoding('utf8');
  for await (const chunk of response) {
    text += chunk as string;
    if (text.length >= ERROR_BODY_BYTES) break;
  }
  response.destroy();
  return text;
}

/** Sends the POST; resolves once a 2xx answer's headers arrived (a MaiError otherwise). */
async function open(post: SsePost): Promise<IncomingMessage> {
  let url = post.url;
  let hop = post;
  for (let hops = 0; ; hops++) {
    let response: IncomingMessage;
    try {
      response = await send(hop, url);
    } catch (error) {
      if (post.signal.aborted) throw cancelled(post);
      throw normalizeError(error, post);
    }
    const status = response.statusCode ?? 0;
    if (status >= 200 && status < 300) return response;
    const location = response.headers.location;
    if (status >= 300 && status < 400 && location) {
      response.destroy();
      const next = new URL(location, url).href;
      if ((status === 307 || status === 308) && hops < MAX_REDIRECTS) {
        // As fetch does: the key goes no further than the origin it was configured for.
        if (new URL(next).origin !== new URL(url).origin) hop = { ...hop, headers: withoutCredentials(hop.headers) };
        url = next;
        continue;
      }
      throw new MaiError(ErrorCodes.badRequest, `${post.backend} redirects its chat requests (${status} to ${redact(next, post.secrets)}): set the backend's baseURL to where it points.`, {
        retryable: false,
        data: { backend: post.backend, ...(post.model ? { model: post.model } : {}), status, location: redact(next, post.secrets) },
      });
    }
    const body = await readText(response).catch(() => '');
    const retryAfter = response.headers['retry-after'];
    throw errorFromStatus({ ...post, status, body, retryAfter: typeof retryAfter === 'string' ? retryAfter : null });
  }
}

const CREDENTIALS = new Set(['authorization', 'proxy-authorization', 'cookie']);

function withoutCredentials(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !CREDENTIALS.has(name.toLowerCase())));
}

/** The error of a request whose caller's signal aborted (the backend's stream code throws it too). */
export function cancelled(post: Pick<SsePost, 'backend' | 'model' | 'signal'>): MaiError {
  return new MaiError(ErrorCodes.cancelled, `The request to ${post.backend}${post.model ? ` for ${post.model}` : ''} was aborted.`, { retryable: false, cause: post.signal.reason });
}

/**
 * The data of each event the server streams, parsed as JSON, until the stream ends (`[DONE]` is
 * skipped). Throws a MaiError: cancelled when the signal aborted, the server's error for an
 * `{"error": …}` event, stream-cut when the connection broke. Returning early closes the connection.
 */
export async function* postForEvents(post: SsePost): AsyncGenerator<unknown, void, undefined> {
  const response = await open(post);
  const streaming = { ...post, streaming: true };
  const events: unknown[] = [];
  let failure: MaiError | null = null;
  const parser = createParser({
    onEvent(event) {
      if (failure || event.data.startsWith('[DONE]')) return;
      let data: { error?: unknown } | null;
      try {
        data = JSON.parse(event.data) as { error?: unknown } | null;
      } catch {
        failure = new MaiError(ErrorCodes.serverError, `${post.backend} sent an event that is not JSON: ${redact(event.data.slice(0, 120), post.secrets)}`, {
          data: { backend: post.backend, ...(post.model ? { model: post.model } : {}) },
        });
        return;
      }
      if (data?.error) failure = errorFromStreamBody(streaming, JSON.stringify({ error: data.error }));
      else events.push(data);
    },
  });
  const abort = () => response.destroy(cancelled(post));
  post.signal.addEventListener('abort', abort, { once: true });
  response.setEncoding('utf8');
  try {
    if (post.signal.aborted) abort();
    for await (const text of response) {
      parser.feed(text as string);
      for (let i = 0; i < events.length; i++) yield events[i];
      events.length = 0;
      if (failure) throw failure;
    }
  } catch (error) {
    if (post.signal.aborted) throw cancelled(post);
    throw normalizeError(error, streaming);
  } finally {
    post.signal.removeEventListener('abort', abort);
    // A caller that stopped reading (or a failure): the connection closes, so the server stops too.
    if (!response.complete) response.destroy();
  }
}
