/**
 * Maps what HTTP backends throw (node:http's errors, node-http.ts; Deno's and undici's fetch wordings
 * are still known) to the few kinds the fallback stage acts on: unreachable, timeout, rate-limited
 * (with Retry-After), context overflow, model not found, server error, cut stream, bad request.
 * Secrets (API keys) are scrubbed from every message and body excerpt, so an error can be logged or
 * sent to a client as it is.
 */
import { ErrorCodes, isAbortError, MaiError, type ErrorCode } from '../../core/errors.ts';

const OVERFLOW =
  /context length|context window|context size|maximum context|n_ctx|too many tokens|exceeds? the (available )?context|prompt is too long|context_length_exceeded|exceed_context_size|tokens? (exceed|is greater)|context the overflows/i;
const NOT_FOUND = /model .*(not found|does not exist)|no such model|unknown model|model_not_found|not loaded|"type":"model_not_found"/i;
/** Error names and codes of a connection that never opened (undici's, then Deno's wording). */
const REFUSED = /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EADDRNOTAVAIL|fetch failed|Connection error|Connection refused|tcp connect error|error trying to connect/i;
/** Deno's fetch says in words what undici names with a code ("tcp connect error: Connection refused (os error 111)"). */
const DENO_CODES: ReadonlyArray<readonly [RegExp, string]> = [
  [/connection refused/i, 'ECONNREFUSED'],
  [/dns error|failed to lookup address|name or service not known/i, 'ENOTFOUND'],
  [/no route to host|host is unreachable/i, 'EHOSTUNREACH'],
  [/network is unreachable/i, 'ENETUNREACH'],
];
/** What a connection closed mid-answer looks like, from undici, Deno's fetch and the openai package. */
const CUT = /terminated|ECONNRESET|premature|other side closed|socket hang up|UND_ERR_SOCKET|aborted|error reading a body|connection (closed|reset)/i;

export interface ErrorContext {
  backend: string;
  model?: string;
  /** True once response headers arrived: a broken connection now means a cut stream. */
  streaming?: boolean;
  /** Values that must never appear in a message (API keys). */
  secrets?: readonly string[];
}

/** Replaces every secret in `text` with a placeholder. */
export function redact(text: string, secrets: readonly string[] | undefined): string {
  let out = text;
  for (const secret of secrets ?? []) if (secret.length >= 4) out = out.split(secret).join('[redacted]');
  return out;
}

/** Seconds or an HTTP date, as Retry-After may say; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export interface HttpFailure {
  backend: string;
  model?: string;
  status: number;
  body: string;
  retryAfter?: string | null;
  secrets?: readonly string[];
}

/**
 * The message inside an error body: OpenAI's `{error: {message}}`, Ollama's `{error: "…"}`,
 * LM Studio's `{error: {type, message}}`, or the text as it is.
 */
export function errorBodyMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: unknown; message?: unknown };
    const error = parsed.error;
    if (typeof error === 'string') return error;
    if (error && typeof error === 'object') {
      const message = (error as { message?: unknown }).message;
      if (typeof message === 'string') return message;
    }
    if (typeof parsed.message === 'string') return parsed.message;
  } catch {
    // not JSON: the text itself
  }
  return body;
}

/** A non-2xx HTTP answer as a MaiError of the right kind. */
export function errorFromStatus(failure: HttpFailure): MaiError {
  const { backend, model, status } = failure;
  const body = redact(failure.body, failure.secrets);
  const excerpt = body.length > 300 ? `${body.slice(0, 300)}…` : body;
  const detail = errorBodyMessage(excerpt);
  const data = { backend, ...(model ? { model } : {}), status, body: excerpt };
  if (status === 429) {
    const retryAfterMs = parseRetryAfter(failure.retryAfter);
    return new MaiError(ErrorCodes.rateLimited, `${backend} is rate-limiting (429)${retryAfterMs === undefined ? '' : `; retry after ${retryAfterMs} ms`}: ${detail}`, {
      data: { ...data, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) },
    });
  }
  let code: ErrorCode;
  if (OVERFLOW.test(body)) code = ErrorCodes.contextOverflow;
  else if (status === 404 || (NOT_FOUND.test(body) && status < 500)) code = ErrorCodes.modelNotFound;
  else if (status === 408 || status === 504) code = ErrorCodes.timeout;
  else if (status >= 500) code = ErrorCodes.serverError;
  else code = ErrorCodes.badRequest;
  const hint = status === 401 || status === 403 ? ' Check the API key the config names (apiKeyEnv).' : '';
  return new MaiError(code, `${backend} answered ${status}${model ? ` for ${model}` : ''}: ${detail || '(no body)'}${hint}`, { data });
}

/** An error a server reported inside a stream that had started well (Ollama's `{"error": …}` line). */
export function errorFromStreamBody(context: ErrorContext, body: string): MaiError {
  const text = redact(body, context.secrets);
  const data = { backend: context.backend, ...(context.model ? { model: context.model } : {}), body: text.slice(0, 300) };
  const code = OVERFLOW.test(text) ? ErrorCodes.contextOverflow : NOT_FOUND.test(text) ? ErrorCodes.modelNotFound : ErrorCodes.serverError;
  return new MaiError(code, `${context.backend} failed mid-answer${context.model ? ` for ${context.model}` : ''}: ${errorBodyMessage(text)}`, { data });
}

function headerOf(headers: unknown, name: string): string | null {
  if (!headers || typeof headers !== 'object') return null;
  const get = (headers as { get?: unknown }).get;
  if (typeof get === 'function') return (get as (n: string) => string | null).call(headers, name);
  const value = (headers as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : null;
}

/** The error codes along an error's cause chain (undici puts ECONNREFUSED two levels down). */
function causeCodes(error: unknown): string {
  const codes: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current && typeof current === 'object'; depth++) {
    const { code, name, message } = current as { code?: unknown; name?: unknown; message?: unknown };
    codes.push(String(code ?? ''), String(name ?? ''), String(message ?? ''));
    current = (current as { cause?: unknown }).cause;
  }
  return codes.join(' ');
}

/** Anything a fetch or the openai package threw, as a MaiError. */
export function normalizeError(error: unknown, context: ErrorContext): MaiError {
  if (error instanceof MaiError) return error;
  if (isAbortError(error)) return new MaiError(ErrorCodes.cancelled, 'The request was aborted.', { cause: error, retryable: false });
  const e = error as { status?: unknown; message?: unknown; headers?: unknown; error?: unknown; name?: unknown };
  const secrets = context.secrets;
  const base = { backend: context.backend, ...(context.model ? { model: context.model } : {}), ...(secrets ? { secrets } : {}) };
  if (typeof e?.status === 'number') {
    const body = e.error !== undefined ? JSON.stringify({ error: e.error }) : String(e.message ?? '');
    return errorFromStatus({ ...base, status: e.status, body, retryAfter: headerOf(e.headers, 'retry-after') });
  }
  // An error event inside an SSE stream (the openai package throws an APIError without a status).
  if (context.streaming && e?.error !== undefined && e.error !== null) return errorFromStreamBody(context, JSON.stringify({ error: e.error }));
  const message = redact(String(e?.message ?? error), secrets);
  const name = String(e?.name ?? '');
  const chain = causeCodes(error);
  const data = { backend: context.backend, ...(context.model ? { model: context.model } : {}) };
  if (name === 'APIConnectionTimeoutError' || /\btimed? ?out\b|ETIMEDOUT|UND_ERR_HEADERS_TIMEOUT/i.test(chain)) {
    return new MaiError(ErrorCodes.timeout, `${context.backend} timed out: ${message}`, { cause: error, data });
  }
  if (context.streaming && (CUT.test(chain) || name === 'APIConnectionError')) {
    return new MaiError(ErrorCodes.streamCut, `${context.backend}'s stream${context.model ? ` for ${context.model}` : ''} was cut: ${message}`, { cause: error, data });
  }
  // Deno without --allow-net for this host: say so rather than blame the server.
  const denied = /Requires net access to "[^"]*", run again with the --allow-net flag/.exec(chain)?.[0];
  if (denied) return new MaiError(ErrorCodes.unreachable, `${context.backend} cannot be reached: ${denied}.`, { cause: error, data });
  if (name === 'APIConnectionError' || REFUSED.test(chain) || (!context.streaming && CUT.test(chain))) {
    const code = /E[A-Z]{4,}/.exec(chain)?.[0] ?? DENO_CODES.find(([wording]) => wording.test(chain))?.[1];
    return new MaiError(ErrorCodes.unreachable, `${context.backend} cannot be reached (${code ?? message}). Is the server running at the configured address?`, {
      cause: error,
      data,
    });
  }
  return new MaiError(ErrorCodes.serverError, `${context.backend} failed: ${message}`, { cause: error, data });
}
