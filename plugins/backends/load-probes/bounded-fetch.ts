/**
 * One GET for a load probe: the caller's signal (the load board's timeout), and a bound on the
 * body — a /metrics that streams on and on is cut at `maxBytes` and refused, never buffered whole.
 * Over node:http(s) (node-http.ts says why not fetch).
 */
import { MaiError, ErrorCodes } from '../../../core/errors.ts';
import { nodeHttp, readText, succeeded } from '../node-http.ts';

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
  const response = await nodeHttp(url, { method: 'GET', headers: { ...request.headers }, signal: request.signal });
  if (!succeeded(response)) {
    response.destroy();
    throw new ProbeHttpError(response.statusCode ?? 0, path);
  }
  const declared = Number(response.headers['content-length']);
  if (Number.isFinite(declared) && declared > request.maxBytes) {
    response.destroy();
    throw new MaiError(ErrorCodes.serverError, `GET ${path} is ${declared} bytes, over the ${request.maxBytes} read (load.maxBytes)`);
  }
  return readText(response, {
    signal: request.signal,
    maxBytes: request.maxBytes,
    over: () => new MaiError(ErrorCodes.serverError, `GET ${path} sent more than the ${request.maxBytes} bytes read (load.maxBytes)`),
  });
}

export async function fetchJson<T>(url: string, request: ProbeRequest): Promise<T> {
  const text = await fetchBounded(url, request);
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new MaiError(ErrorCodes.serverError, `GET ${new URL(url).pathname} did not answer JSON`);
  }
}
