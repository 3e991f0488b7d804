/**
 * 1. Overhead: what a turn through `mai serve` (JSON-RPC over stdio, streamed as $/progress) costs
 * over the same request made straight to the server with the `openai` package, and the same for
 * Portkey's gateway, the peer. The server answers every request in a fixed 20 ms, streamed in 20
 * chunks. The three paths take turns, request by request, so they share the machine's noise.
 */
import OpenAI from 'openai';
import { performance } from 'node:perf_hooks';
import { spawnLoopbackServer, startPortkey } from '../lib/processes.js';
import { spawnRpc } from '../lib/rpc-pipe.js';
import { binPath, maiEnv, tempDir, writeBenchConfig } from '../lib/setup.js';
import { ms, p50, p99, plusMs, times } from '../lib/stats.js';

const MODEL = 'bench-model';
const MESSAGE = 'Say hello.';
const EXPECTED = 'Answer to: Say hello.';

/**
 * @typedef {object} Timing
 * @property {number} first request → first token
 * @property {number} last request → last token
 * @property {number} total request → the end of the turn (Mai: its result; the others: the end of the stream)
 */

/**
 * Streams one answer with the openai package.
 * @param {OpenAI} client
 * @returns {Promise<Timing>}
 */
async function viaOpenAI(client) {
  const started = performance.now();
  let first = 0;
  let last = 0;
  let text = '';
  const stream = await client.chat.completions.create({
    model: MODEL,
    messages: [{ role: 'user', content: MESSAGE }],
    stream: true,
    stream_options: { include_usage: true },
    max_tokens: 512,
  });
  for await (const chunk of stream) {
    const delta = chunk.choices[0]?.delta?.content;
    if (delta) {
      last = performance.now();
      if (first === 0) first = last;
      text += delta;
    }
  }
  const total = performance.now() - started;
  if (!text.startsWith(EXPECTED)) throw new Error(`unexpected answer: ${text}`);
  return { first: first - started, last: last - started, total };
}

/**
 * One turn through `mai serve`, its answer streamed as $/progress.
 * @param {import('../lib/rpc-pipe.js').RpcPipe} mai
 * @param {string} token
 * @returns {Promise<Timing>}
 */
async function viaMai(mai, token) {
  let first = 0;
  let last = 0;
  const off = mai.onProgress(token, (value) => {
    if (value?.kind !== 'delta') return;
    last = performance.now();
    if (first === 0) first = last;
  });
  const started = performance.now();
  const reply = await mai.request('chat/send', { message: MESSAGE, progressToken: token });
  const total = performance.now() - started;
  off();
  if (reply.error) throw new Error(`mai chat/send failed: ${reply.error.message}\n${mai.stderr()}`);
  const text = /** @type {{ text: string }} */ (reply.result).text;
  if (!text.startsWith(EXPECTED)) throw new Error(`unexpected answer from Mai: ${text}`);
  return { first: first - started, last: last - started, total };
}

/**
 * @param {{ smoke: boolean }} options
 * @returns {Promise<import('../lib/report.js').SuiteResult>}
 */
export async function overhead({ smoke }) {
  const began = performance.now();
  // Smoke: one turn per path, each its first (no warm-up): the same code, 3 turns instead of 21.
  const iterations = smoke ? 1 : 200;
  const warmup = smoke ? 0 : 30;
  const server = await spawnLoopbackServer({ models: [{ id: MODEL }], replyMs: 20, chunks: 20 });
  const portkey = await startPortkey();
  const dir = await tempDir();
  const config = await writeBenchConfig(dir.path, { backends: [{ name: 'loop', baseURL: server.baseURL }], monitor: !smoke });
  const mai = spawnRpc({ command: process.execPath, args: [binPath, 'serve', '--config', config], framing: 'content-length', env: maiEnv(dir.path), cwd: dir.path });
  try {
    const init = await mai.request('initialize', { clientInfo: { name: 'mai-bench' } });
    if (init.error) throw new Error(`mai initialize failed: ${init.error.message}`);
    const direct = new OpenAI({ baseURL: server.baseURL, apiKey: 'bench', maxRetries: 0 });
    const peer = new OpenAI({ baseURL: portkey.baseURL, apiKey: 'bench', maxRetries: 0, defaultHeaders: portkey.headers(server.baseURL) });
    let tokens = 0;
    /** @type {Record<'direct' | 'mai' | 'portkey', () => Promise<Timing>>} */
    const paths = {
      direct: () => viaOpenAI(direct),
      mai: () => viaMai(mai, `bench-${++tokens}`),
      portkey: () => viaOpenAI(peer),
    };
    const names = /** @type {const} */ (['direct', 'mai', 'portkey']);
    /** @type {Record<'direct' | 'mai' | 'portkey', Timing[]>} */
    const samples = { direct: [], mai: [], portkey: [] };
    for (let i = 0; i < warmup; i++) for (const name of names) await paths[name]();
    for (let i = 0; i < iterations; i++) {
      // Rotate who goes first, so no path always follows the same one.
      for (let k = 0; k < names.length; k++) {
        const name = /** @type {'direct' | 'mai' | 'portkey'} */ (names[(i + k) % names.length]);
        samples[name].push(await paths[name]());
      }
    }

    /** @param {Timing[]} list @param {keyof Timing} key */
    const col = (list, key) => list.map((t) => t[key]);
    const base = samples.direct;
    /** @param {'direct' | 'mai' | 'portkey'} name @param {string} label */
    const row = (name, label) => {
      const s = samples[name];
      const added50 = p50(col(s, 'total')) - p50(col(base, 'total'));
      const added99 = p99(col(s, 'total')) - p99(col(base, 'total'));
      return [
        label,
        `${ms(p50(col(s, 'first')))} / ${ms(p99(col(s, 'first')))}`,
        `${ms(p50(col(s, 'last')))} / ${ms(p99(col(s, 'last')))}`,
        `${ms(p50(col(s, 'total')))} / ${ms(p99(col(s, 'total')))}`,
        name === 'direct' ? '—' : `${plusMs(p50(col(s, 'first')) - p50(col(base, 'first')))} / ${plusMs(p50(col(s, 'last')) - p50(col(base, 'last')))}`,
        name === 'direct' ? '—' : `${plusMs(added50)} / ${plusMs(added99)}`,
        name === 'direct' ? '1.00×' : times(p50(col(s, 'total')) / p50(col(base, 'total'))),
      ];
    };
    const maiAdded = p50(col(samples.mai, 'total')) - p50(col(base, 'total'));
    const maiAddedLast = p50(col(samples.mai, 'last')) - p50(col(base, 'last'));
    const portkeyAdded = p50(col(samples.portkey, 'total')) - p50(col(base, 'total'));
    const portkeyAddedLast = p50(col(samples.portkey, 'last')) - p50(col(base, 'last'));
    return {
      id: 'overhead',
      title: '1. Overhead of a turn (20 ms answer, 20 chunks)',
      header: ['path', 'first token p50 / p99', 'last token p50 / p99', 'turn p50 / p99', 'added at first / last token (p50)', 'added per turn p50 / p99', 'turn ratio p50'],
      rows: [row('direct', 'openai package, direct'), row('mai', 'mai serve (stdio, $/progress)'), row('portkey', 'Portkey gateway 1.15.2')],
      checks: [
        { name: 'Overhead of a turn through mai serve, p50', target: '≤ 0.5 ms', measured: plusMs(maiAdded), pass: maiAdded <= 0.5 },
        { name: 'Overhead at the last token through mai serve, p50', target: '≤ 0.5 ms', measured: plusMs(maiAddedLast), pass: maiAddedLast <= 0.5 },
        { name: 'Mai overhead below Portkey gateway overhead, turn p50', target: `< ${plusMs(portkeyAdded)}`, measured: plusMs(maiAdded), pass: maiAdded < portkeyAdded },
        { name: 'Mai overhead below Portkey gateway overhead, last token p50', target: `< ${plusMs(portkeyAddedLast)}`, measured: plusMs(maiAddedLast), pass: maiAddedLast < portkeyAddedLast },
      ],
      notes: [
        `${iterations} turns per path after ${warmup} warm-up turns each; the three paths take turns request by request (rotating who goes first). "Added" is the path's percentile minus the direct path's same percentile.`,
        'The loopback server (bench/lib/loopback-server.js) runs in its own process and sends its 20 chunks evenly over 20 ms. Mai runs `node dist/bundle/mai.js serve` with the openai backend, the default scorers (DEFAULT_SCORERS) and the sampling monitor at its default 2 s; each turn is a new conversation: its file is created while the model answers, the turn is written to it before the result is sent and fsynced right behind it (context.fsync: after-reply, the default).',
        'A Mai "turn" ends at the chat/send result, which comes after the conversation is stored; the openai and Portkey paths end at the end of the stream. The last-token column compares what a user sees stream.',
        'Portkey runs `start-server.js --headless` with provider openai and x-portkey-custom-host set to the loopback server, through bench/lib/portkey-preload.js (binds 127.0.0.1; copies fetch Responses so Portkey 1.15.2 can add its headers — without it every request fails with "TypeError: immutable", Portkey-AI/gateway#1389).',
      ],
      seconds: (performance.now() - began) / 1000,
    };
  } finally {
    await mai.close();
    await portkey.close();
    await server.close();
    await dir.cleanup();
  }
}
