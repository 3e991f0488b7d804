/**
 * Maps what HTTP backends and the `openai` package throw to the few kinds the fallback stage
 * acts on: unreachable, timeout, rate-limited (with Retry-After), context overflow, model not
 * found, server error, cut stream, bad request.
 */
import { ErrorCodes, isAbortError, MaiError, type ErrorCode } from '../../core/errors.ts';

const OVERFLOW =
  /context length|context window|maximum context|n_ctx|too many tokens|exceeds? the (available )?context|prompt is too long|context_length_exceeded|tokens? (exceed|is greater)/i;
const NOT_FOUND = /model .*(not found|does not exist)|no such model|unknown model|model_not_found|not loaded/i;

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
}

/** A non-2xx HTTP answer as a MaiError of the right kind. */
export function errorFromStatus(failure: HttpFailure): MaiError {
  const { backend, model, status, body } = failure;
  const detail = body.length > 300 ? `${body.slice(0, 300)}…` : body;
  const data = { backend, ...(model ? { model } : {}), status, body: detail };
  let code: ErrorCode;
  if (status === 429) {
    const retryAfterMs = parseRetryAfter(failure.retryAfter);
    return new MaiError(ErrorCodes.rateLimited, `${backend} is rate-limiting (429)${retryAfterMs === undefined ? '' : `; retry after ${retryAfterMs} ms`}.`, {
      data: { ...data, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) },
    });
  }
  if (OVERFLOW.test(body)) code = ErrorCodes.contextOverflow;
  else if (status === 404 || (NOT_FOUND.test(body) && status < 500)) code = ErrorCodes.modelNotFound;
  else if (status === 408 || status === 504) code = ErrorCodes.timeout;
  else if (status >= 500) code = ErrorCodes.serverError;
  else code = ErrorCodes.badRequest;
  return new MaiError(code, `${backend} answered ${status}${model ? ` for ${model}` : ''}: ${detail || '(no body)'}`, { data });
}

/** Anything a fetch or the openai package threw, as a MaiError. */
export function normalizeError(error: unknown, context: { backend: string; model?: string; streaming?: boolean }): MaiError {
  if (error instanceof MaiError) return error;
  if (isAbortError(error)) return new MaiError(ErrorCodes.cancelled, 'The request was aborted.', { cause: error, retryable: false });
  const e = error as { status?: unknown; message?: unknown; headers?: unknown; error?: unknown; name?: unknown; cause?: unknown };
  if (typeof e?.status === 'number') {
    const headers = e.headers as { get?: (name: string) => string | null } | Record<string, string> | undefined;
    const retryAfter =
      headers && typeof (headers as { get?: unknown }).get === 'function'
        ? (headers as { get: (name: string) => string | null }).get('retry-after')
        : (headers as Record<string, string> | undefined)?.['retry-after'];
    const body = e.error !== undefined ? JSON.stringify(e.error) : String(e.message ?? '');
    return errorFromStatus({ backend: context.backend, ...(context.model ? { model: context.model } : {}), status: e.status, body, retryAfter: retryAfter ?? null });
  }
  const message = String(e?.message ?? error);
  const name = String(e?.name ?? '');
  const causeCode = String((e?.cause as { code?: unknown } | undefined)?.code ?? '');
  const data = { backend: context.backend, ...(context.model ? { model: context.model } : {}) };
  if (name === 'APIConnectionTimeoutError' || /timed? ?out/i.test(message)) {
    return new MaiError(ErrorCodes.timeout, `${context.backend} timed out: ${message}`, { cause: error, data });
  }
  const refused = /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ECONNRESET|fetch failed|Connection error/i;
  if (context.streaming && (/terminated|ECONNRESET|premature|aborted|socket|other side closed/i.test(message + causeCode) || name === 'APIConnectionError')) {
    return new MaiError(ErrorCodes.streamCut, `${context.backend}'s stream was cut: ${message}`, { cause: error, data });
  }
  if (name === 'APIConnectionError' || refused.test(message) || refused.test(causeCode)) {
    return new MaiError(ErrorCodes.unreachable, `${context.backend} cannot be reached (${causeCode || message}). Is the server running at the configured address?`, {
      cause: error,
      data,
    });
  }
  return new MaiError(ErrorCodes.serverError, `${context.backend} failed: ${message}`, { cause: error, data });
}
