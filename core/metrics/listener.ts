/**
 * The opt-in HTTP listener for Prometheus to scrape (`GET /metrics`), bound to loopback only: the
 * host must be a loopback address (the config refuses others; this checks again before binding and
 * after, on the address really bound). Anything else than GET /metrics is 404 or 405.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorCodes, MaiError } from '../errors.ts';
import { isLoopbackHost, loopbackBindAddress } from '../config/loopback.ts';

export interface MetricsListenerOptions {
  host: string;
  port: number;
  metrics: () => Promise<{ contentType: string; text: string }>;
}

export interface MetricsListener {
  /** http://127.0.0.1:PORT/metrics (the port really bound). */
  readonly url: string;
  readonly address: AddressInfo;
  close(): Promise<void>;
}

function refuse(host: string): MaiError {
  return new MaiError(
    ErrorCodes.configInvalid,
    `metrics.listen.host "${host}" is not a loopback address: the metrics listener binds only 127.0.0.1, ::1 or localhost, so it never takes connections from other machines. Use 127.0.0.1, or metrics.textfile for node_exporter.`,
    { retryable: false, data: { host } },
  );
}

export async function startMetricsListener(options: MetricsListenerOptions): Promise<MetricsListener> {
  if (!isLoopbackHost(options.host)) throw refuse(options.host);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Mai serves its metrics at /metrics.\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('GET /metrics\n');
      return;
    }
    options.metrics().then(
      ({ contentType, text }) => res.writeHead(200, { 'content-type': contentType }).end(req.method === 'HEAD' ? undefined : text),
      (error: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(error as Error).message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, loopbackBindAddress(options.host), () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  if (!isLoopbackHost(address.address)) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    throw refuse(address.address);
  }
  server.unref();
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}/metrics`,
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
