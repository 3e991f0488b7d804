/**
 * A JSON-RPC 2.0 client on a child process's stdin/stdout, in either framing, with its own small
 * reader: the same client drives `mai serve` and the bare echo server, so its own cost is the same
 * on both sides of every comparison. Requests may be pipelined (sent before earlier ones are
 * answered); `$/progress` notifications go to the callback registered for their token.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { track } from './setup.js';

/** @typedef {'ndjson' | 'content-length'} Framing */

/**
 * @typedef {object} RpcReply
 * @property {string | number | null} [id]
 * @property {unknown} [result]
 * @property {{ code: number, message: string, data?: unknown }} [error]
 * @property {string} [method]
 * @property {any} [params]
 */

/**
 * @typedef {object} RpcPipe
 * @property {import('node:child_process').ChildProcessWithoutNullStreams} child
 * @property {number} spawnedAt performance.now() just before spawn
 * @property {(method: string, params?: unknown) => Promise<RpcReply>} request sends one request, resolves with its reply
 * @property {(method: string, params?: unknown) => void} notify
 * @property {(token: string | number, fn: (value: any) => void) => () => void} onProgress
 * @property {() => string} stderr
 * @property {() => Promise<number | null>} close ends stdin and waits for the exit
 * @property {Promise<number | null>} exited
 */

/** @param {Framing} framing @param {string} json */
export function frame(framing, json) {
  return framing === 'ndjson' ? `${json}\n` : `Content-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`;
}

/**
 * @param {{ command: string, args: string[], framing: Framing, env?: NodeJS.ProcessEnv, cwd?: string }} options
 * @returns {RpcPipe}
 */
export function spawnRpc(options) {
  const spawnedAt = performance.now();
  const child = spawn(options.command, options.args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  track(child);
  /** @type {Map<string | number, { resolve: (reply: RpcReply) => void, reject: (error: Error) => void }>} */
  const pending = new Map();
  /** @type {Map<string | number, (value: any) => void>} */
  const progress = new Map();
  let stderr = '';
  let nextId = 1;
  /** @type {Buffer} */
  let buffer = Buffer.alloc(0);

  /** @param {string} text */
  const deliver = (text) => {
    /** @type {RpcReply} */
    const message = JSON.parse(text);
    if (message.method === '$/progress') {
      progress.get(message.params?.token)?.(message.params?.value);
      return;
    }
    if (message.id === undefined || message.id === null) return;
    const waiter = pending.get(message.id);
    if (waiter) {
      pending.delete(message.id);
      waiter.resolve(message);
    }
  };
  const parse = () => {
    let start = 0;
    for (;;) {
      if (options.framing === 'ndjson') {
        const newline = buffer.indexOf(0x0a, start);
        if (newline === -1) break;
        deliver(buffer.toString('utf8', start, newline));
        start = newline + 1;
        continue;
      }
      const end = buffer.indexOf('\r\n\r\n', start);
      if (end === -1) break;
      const match = /Content-Length: (\d+)/i.exec(buffer.toString('ascii', start, end));
      if (!match) throw new Error(`a reply without Content-Length: ${buffer.toString('utf8', start, end)}`);
      const length = Number(match[1]);
      if (buffer.length < end + 4 + length) break;
      deliver(buffer.toString('utf8', end + 4, end + 4 + length));
      start = end + 4 + length;
    }
    buffer = start === 0 ? buffer : buffer.subarray(start);
  };
  child.stdout.on('data', (/** @type {Buffer} */ chunk) => {
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
    parse();
  });
  child.stderr.on('data', (/** @type {Buffer} */ chunk) => {
    stderr += chunk.toString('utf8');
    if (stderr.length > 100_000) stderr = stderr.slice(-50_000);
  });
  child.stdin.on('error', () => {});
  const exited = new Promise((resolve) =>
    child.on('close', (code, signal) => {
      // Whatever was still waiting will never be answered.
      for (const waiter of pending.values()) waiter.reject(new Error(`${options.args.join(' ')} exited (${code ?? signal}) before answering\n${stderr}`));
      pending.clear();
      resolve(code);
    }),
  );
  child.on('error', (error) => {
    for (const waiter of pending.values()) waiter.reject(error);
    pending.clear();
  });
  /** @param {unknown} message */
  const send = (message) => child.stdin.write(frame(options.framing, JSON.stringify(message)));
  return {
    child,
    spawnedAt,
    request(method, params) {
      const id = nextId++;
      const reply = new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
      send({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) });
      return /** @type {Promise<RpcReply>} */ (reply);
    },
    notify(method, params) {
      send({ jsonrpc: '2.0', method, ...(params === undefined ? {} : { params }) });
    },
    onProgress(token, fn) {
      progress.set(token, fn);
      return () => progress.delete(token);
    },
    stderr: () => stderr,
    close() {
      child.stdin.end();
      return /** @type {Promise<number | null>} */ (exited);
    },
    exited: /** @type {Promise<number | null>} */ (exited),
  };
}
