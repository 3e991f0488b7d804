/**
 * One GET for a load probe: the caller's signal (the load board's timeout), and a bound on the
 * body — a /metrics that streams on and on is cut at `maxBytes` and refused, never buffered whole.
 */
import { MaiError, ErrorCodes } from '../../../core/errors.ts';

export interface ProbeRequest {
  signal: AbortSignal;
  maxBytes: number;
  headers?: Readonly<Record<string, string>>;
}

/** A probe's HTTP status other than 2xx; `missing` for 404/501 (the server lacks the endpoint, or it is off). */
export class ProbeHttpError extends MaiError {
  constructor(
    readonly status: number,
    path: string,
  ) {
    super(ErrorCodes.serverError, `GET ${path} answered ${status}${status === 404 || status === 501 ? ' (not available on this server, or not enabled)' : ''}`, {
      data: { status, path },
    });
  }
  get missing(): boolean {
    return this.status === 404 || this.status === 501;
  }
}

export async function fetchBounded(url: string, request: ProbeRequest): Promise<string> {
  const path = new URL(url).pathname;
  const response = await fetch(url, { headers: { ...request.headers }, signal: request.signal });
  if (!response.ok) {
    await response.body?.cancel().catch(() => undefined);
    throw new ProbeHttpError(response.status, path);
  }
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > request.maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw new MaiError(ErrorCodes.serverError, `GET ${path} is ${declared} bytes, over the ${request.maxBytes} read (load.maxBytes)`);
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > request.maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new MaiError(ErrorCodes.serverError, `GET ${path} sent more than the ${request.maxBytes} bytes read (load.maxBytes)`);
    }
    text += decoder.decode(value, { stream: true });
  }
  return text + decoder.decode();
}

export async function fetchJson<T>(url: string, request: ProbeRequest): Promise<T> {
  const text = await fetchBounded(url, request);
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new MaiError(ErrorCodes.serverError, `GET ${new URL(url).pathname} did not answer JSON`);
  }
}
