/**
 * A POST whose answer is a stream of server-sent events (an OpenAI-compatible streamed chat), over
 * node:http(s) (node-http.ts) with the events decoded by eventsource-parser. The openai backend sends its chat
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
import type { IncomingMessage } from 'node:http';
import { createParser } from 'eventsource-parser';
import { ErrorCodes, MaiError } from '../../core/errors.ts';
import { errorFromResponse } from './http.ts';
import { nodeHttp, succeeded } from './node-http.ts';
import { errorFromStreamBody, normalizeError, redact, type ErrorContext } from './normalize-error.ts';
import { extend } from '../../core/extend.ts';

export interface SsePost extends ErrorContext {
  url: string;
  /** The JSON body, already serialised. */
  body: string;
  headers: Readonly<Record<string, string>>;
  signal: AbortSignal;
  /** How long the server may take to start answering (until the response's headers). */
  timeoutMs: number;
}

/** Enough of an error body to say what went wrong. */
const ERROR_BODY_BYTES = 64 * 1024;

/** Sends the POST (node-http.ts); resolves once a 2xx answer's headers arrived (a MaiError otherwise). */
async function open(post: SsePost): Promise<IncomingMessage> {
  const path = () => new URL(post.url).pathname;
  let response: IncomingMessage;
  try {
    response = await nodeHttp(post.url, {
      method: 'POST',
      headers: extend(post.headers, { 'content-type': 'application/json', accept: 'application/json' }),
      body: post.body,
      signal: post.signal,
      timeoutMs: post.timeoutMs,
      timedOut: () =>
        new MaiError(ErrorCodes.timeout, `${post.backend} did not start answering POST ${path()} within ${post.timeoutMs} ms.`, {
          data: { backend: post.backend, ...(post.model ? { model: post.model } : {}), timeoutMs: post.timeoutMs },
        }),
      aborted: () => cancelled(post),
      refusedRedirect: (status, location) =>
        new MaiError(ErrorCodes.badRequest, `${post.backend} redirects its chat requests (${status} to ${redact(location, post.secrets)}): set the backend's baseURL to where it points.`, {
          retryable: false,
          data: { backend: post.backend, ...(post.model ? { model: post.model } : {}), status, location: redact(location, post.secrets) },
        }),
    });
  } catch (error) {
    if (post.signal.aborted) throw cancelled(post);
    throw normalizeError(error, post);
  }
  if (succeeded(response)) return response;
  throw await errorFromResponse(response, post, { maxBytes: ERROR_BODY_BYTES });
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
  const streaming = extend(post, { streaming: true });
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
