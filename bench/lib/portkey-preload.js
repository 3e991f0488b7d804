/**
 * Preloaded into the Portkey gateway (`node --import ./portkey-preload.js start-server.js …`):
 * 1. Its server listens on every interface and has no flag for the host: `listen(port)` without a
 *    host is made to bind 127.0.0.1, so the benchmark opens nothing beyond loopback.
 * 2. Portkey 1.15.2 appends headers to the provider's fetch() Response, whose headers are immutable
 *    with the @hono/node-server this install resolves (1.19): every request fails with
 *    "TypeError: immutable" (Portkey-AI/gateway#1389, fixed upstream by copying the Response,
 *    #1390/#1551). The same fix here: fetch's Response is copied into a new one (same body stream,
 *    status and headers), a constant cost of one object per request.
 */
import net from 'node:net';

/** @type {(this: net.Server, ...args: unknown[]) => net.Server} */
const listen = /** @type {any} */ (net.Server.prototype.listen);
/** @type {any} */ (net.Server.prototype).listen = /** @type {(this: net.Server, ...args: unknown[]) => net.Server} */ (
  function listenOnLoopback(...args) {
    const [first, second] = args;
    if (typeof first === 'number' && typeof second !== 'string') args.splice(1, second === undefined ? 1 : 0, '127.0.0.1');
    else if (typeof first === 'object' && first !== null && !('path' in first) && !('host' in first && first.host)) args[0] = { ...first, host: '127.0.0.1' };
    return listen.apply(this, args);
  }
);

/** @type {(input: string | URL | Request, init?: RequestInit) => Promise<Response>} */
const fetchOriginal = globalThis.fetch.bind(globalThis);
/**
 * @param {string | URL | Request} input
 * @param {RequestInit} [init]
 * @returns {Promise<Response>}
 */
async function fetchWithMutableHeaders(input, init) {
  /** @type {Response} */
  const response = await fetchOriginal(input, init);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers: new Headers(response.headers) });
}
Object.defineProperty(globalThis, 'fetch', { value: fetchWithMutableHeaders, writable: true, configurable: true });
