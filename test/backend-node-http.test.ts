/**
 * The node:http(s) request helper every HTTP backend call goes through (plugins/backends/node-http.ts),
 * with http.ts and the load probes' bounded GET over it, against real servers on loopback: the
 * timeout, the caller's abort (the server sees its client go), redirects, a non-2xx body, a refused
 * connection, an over-long body.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, MaiError } from '../core/errors.ts';
import { httpJson, httpStream } from '../plugins/backends/http.ts';
import { fetchBounded, ProbeHttpError } from '../plugins/backends/load-probes/bounded-fetch.ts';
import { nodeHttp, readText } from '../plugins/backends/node-http.ts';
import { closedPort } from './support/openai-server.ts';

interface Loopback {
  origin: string;
  /** Every request seen: method, path, headers. */
  seen: Array<{ method: string; url: string; headers: IncomingMessage['headers'] }>;
  /** Resolves when a request's connection closes before its response ended. */
  clientGone: Promise<void>;
  close(): Promise<void>;
}

const open: Loopback[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function loopback(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Loopback> {
  const seen: Loopback['seen'] = [];
  let gone!: () => void;
  const clientGone = new Promise<void>((resolve) => (gone = resolve));
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    res.on('close', () => {
      if (!res.writableEnded) gone();
    });
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const loop: Loopback = {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    clientGone,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  open.push(loop);
  return loop;
}

const context = { backend: 'b', secrets: ['sk-secret-key'] };

describe('node-http: one request over node:http', () => {
  it('sends the method, headers and body, and reads the answer', async () => {
    const server = await loopback((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => res.end(JSON.stringify({ got: body, length: req.headers['content-length'] })));
    });
    const answer = await httpJson<{ got: string; length: string }>(`${server.origin}/api/x`, { ...context, body: { a: 'é' }, headers: { authorization: 'Bearer k' }, timeoutMs: 5_000 });
    expect(answer).toEqual({ got: '{"a":"é"}', length: '10' });
    expect(server.seen[0]).toMatchObject({ method: 'POST', url: '/api/x', headers: { authorization: 'Bearer k', 'content-type': 'application/json' } });
  });

  it('a non-2xx answer is a MaiError of its kind with the body message, the secret scrubbed', async () => {
    const server = await loopback((req, res) => {
      res.writeHead(req.url === '/gone' ? 404 : 500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'broke with sk-secret-key inside' } }));
    });
    const failed = await httpJson(`${server.origin}/x`, { ...context, timeoutMs: 5_000 }).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(MaiError);
    expect(failed).toMatchObject({ code: ErrorCodes.serverError, message: 'b answered 500: broke with [redacted] inside' });
    expect(await httpJson(`${server.origin}/gone`, { ...context, timeoutMs: 5_000 }).catch((e: unknown) => e)).toMatchObject({ code: ErrorCodes.modelNotFound });
    // The probes' GET says the status, and that 404 means the endpoint is missing.
    const probe = await fetchBounded(`${server.origin}/gone`, { signal: new AbortController().signal, maxBytes: 1000 }).catch((e: unknown) => e);
    expect(probe).toBeInstanceOf(ProbeHttpError);
    expect((probe as ProbeHttpError).missing).toBe(true);
  });

  it('a refused connection is unreachable, naming ECONNREFUSED', async () => {
    const port = await closedPort();
    const failed = await httpJson(`http://127.0.0.1:${port}/v1/models`, { ...context, timeoutMs: 5_000 }).catch((e: unknown) => e);
    expect(failed).toMatchObject({ code: ErrorCodes.unreachable, message: expect.stringMatching(/ECONNREFUSED/) });
    await expect(nodeHttp(`http://127.0.0.1:${port}/`, { method: 'GET' })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('times out a server that never answers (the whole body for a JSON call), and closes the connection', async () => {
    const silent = await loopback(() => {});
    const failed = await httpJson(`${silent.origin}/api/tags`, { ...context, timeoutMs: 150 }).catch((e: unknown) => e);
    expect(failed).toMatchObject({ code: ErrorCodes.timeout, message: 'b did not answer GET /api/tags within 150 ms.' });
    await silent.clientGone;
    // Headers sent, the body never ends: a JSON call's timeout covers the body too.
    const stalls = await loopback((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"models":');
    });
    expect(await httpJson(`${stalls.origin}/api/tags`, { ...context, timeoutMs: 150 }).catch((e: unknown) => e)).toMatchObject({ code: ErrorCodes.timeout });
    await stalls.clientGone;
    // The helper's own bound on the headers, with the caller's error.
    await expect(nodeHttp(`${silent.origin}/`, { method: 'GET', timeoutMs: 100, timedOut: () => new Error('too slow') })).rejects.toThrow('too slow');
  });

  it("the caller's abort ends the request at once, and a streamed body after its headers; the server sees its client go", async () => {
    const silent = await loopback(() => {});
    const controller = new AbortController();
    const pending = httpJson(`${silent.origin}/x`, { ...context, signal: controller.signal, timeoutMs: 60_000 }).catch((e: unknown) => e);
    while (silent.seen.length === 0) await new Promise((r) => setTimeout(r, 5));
    controller.abort();
    expect(await pending).toMatchObject({ code: ErrorCodes.cancelled });
    await silent.clientGone;

    const streams = await loopback((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write('{"n":1}\n');
    });
    const streaming = new AbortController();
    const { response, release } = await httpStream(`${streams.origin}/api/chat`, { ...context, body: {}, signal: streaming.signal, timeoutMs: 5_000 });
    const read = (async () => {
      for await (const _chunk of response) streaming.abort();
    })().catch((e: unknown) => e);
    expect(await read).toMatchObject({ name: 'AbortError' });
    release();
    await streams.clientGone;
    // Already aborted: nothing is sent.
    await expect(nodeHttp(`${silent.origin}/`, { method: 'GET', signal: AbortSignal.abort(), aborted: () => new Error('gave up') })).rejects.toThrow('gave up');
    expect(silent.seen).toHaveLength(1);
  });

  it('a request aborted after a keep-alive exchange reaches the server once, and the next one is sent once', async () => {
    // Deno's node:http re-sent a destroyed request that went out on a pooled connection (the chat of a
    // client that detached reached the server twice): the server sees each request exactly once.
    const posts: string[] = [];
    const server = await loopback((req, res) => {
      if (req.method === 'GET') return void res.end('{"ok":true}');
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        posts.push(body);
        if (body === '"held"') return; // never answered: the caller gives up
        res.end('{"ok":true}');
      });
    });
    expect(await httpJson(`${server.origin}/v1/models`, { ...context, timeoutMs: 5_000 })).toEqual({ ok: true });
    const controller = new AbortController();
    const held = httpJson(`${server.origin}/v1/chat/completions`, { ...context, body: 'held', signal: controller.signal, timeoutMs: 60_000 }).catch((e: unknown) => e);
    while (posts.length === 0) await new Promise((r) => setTimeout(r, 5));
    controller.abort();
    expect(await held).toMatchObject({ code: ErrorCodes.cancelled });
    await server.clientGone;
    expect(await httpJson(`${server.origin}/v1/chat/completions`, { ...context, body: 'next', timeoutMs: 5_000 })).toEqual({ ok: true });
    expect(await httpJson(`${server.origin}/v1/models`, { ...context, timeoutMs: 5_000 })).toEqual({ ok: true });
    expect(posts).toEqual(['"held"', '"next"']);
  });

  it('follows redirects: any for a GET, 307/308 for a body; the key stays on its origin; a POST moved by 302 is refused', async () => {
    const other = await loopback((req, res) => res.end(JSON.stringify({ path: req.url, auth: req.headers.authorization ?? null })));
    const front = await loopback((req, res) => {
      const to = req.url === '/away' ? `${other.origin}/there` : req.url === '/post-308' ? '/final' : req.url === '/loop' ? '/loop' : '/final';
      if (req.url === '/final') {
        res.end(JSON.stringify({ path: req.url, auth: req.headers.authorization ?? null, method: req.method }));
        return;
      }
      res.writeHead(req.url === '/post-308' ? 308 : 302, { location: to });
      res.end();
    });
    const headers = { authorization: 'Bearer sk-secret-key' };
    expect(await httpJson(`${front.origin}/start`, { ...context, headers, timeoutMs: 5_000 })).toEqual({ path: '/final', auth: 'Bearer sk-secret-key', method: 'GET' });
    expect(await httpJson(`${front.origin}/away`, { ...context, headers, timeoutMs: 5_000 })).toEqual({ path: '/there', auth: null });
    expect(await httpJson(`${front.origin}/post-308`, { ...context, headers, body: { a: 1 }, timeoutMs: 5_000 })).toEqual({ path: '/final', auth: 'Bearer sk-secret-key', method: 'POST' });
    await expect(nodeHttp(`${front.origin}/start`, { method: 'POST', body: '{}', refusedRedirect: (status, location) => new Error(`refused ${status} to ${location}`) })).rejects.toThrow(
      `refused 302 to ${front.origin}/final`,
    );
    const looping = await nodeHttp(`${front.origin}/loop`, { method: 'GET' }).catch((e: unknown) => e);
    expect(String(looping)).toMatch(/redirects \(302 to .*\/loop\), not followed/);
  });

  it('a bounded read refuses a body over its limit (declared or streamed), and an error excerpt is cut, not refused', async () => {
    const big = 'x'.repeat(5_000);
    const server = await loopback((req, res) => {
      if (req.url === '/declared') res.end(big);
      else {
        res.writeHead(200);
        res.write(big);
        res.end(big);
      }
    });
    const signal = new AbortController().signal;
    await expect(fetchBounded(`${server.origin}/declared`, { signal, maxBytes: 1_000 })).rejects.toThrow('GET /declared is 5000 bytes, over the 1000 read (load.maxBytes)');
    await expect(fetchBounded(`${server.origin}/chunked`, { signal, maxBytes: 6_000 })).rejects.toThrow('GET /chunked sent more than the 6000 bytes read (load.maxBytes)');
    expect(await fetchBounded(`${server.origin}/chunked`, { signal, maxBytes: 10_000 })).toBe(big + big);
    const excerpt = await readText(await nodeHttp(`${server.origin}/chunked`, { method: 'GET' }), { maxBytes: 100 });
    expect(excerpt).toBe('x'.repeat(100));
  });
});
