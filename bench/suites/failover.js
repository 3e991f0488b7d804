/**
 * 6. Failover: the primary model's server refuses the connection (it is down) or dies in the
 * middle of its answer; how long until the fallback's first token reaches the client of
 * `mai serve`. Each turn names the primary (`model`, a pin for one turn), so every turn starts
 * there; the fallback is the other configured model. A healthy turn straight to the fallback is
 * measured alongside, as the reference.
 *  - refused: the primary server lists its model, then stops listening; the failure happens as
 *    Mai connects, which the benchmark cannot see, so the time is counted from sending the request
 *    (an upper bound: it includes the whole turn's own overhead).
 *  - dies mid-stream: the primary streams 5 of its 20 chunks and drops the connection; the time is
 *    counted from the moment it drops it (both servers run in the benchmark's process, one clock).
 */
import { performance } from 'node:perf_hooks';
import { startLoopbackServer } from '../lib/loopback-server.js';
import { spawnRpc } from '../lib/rpc-pipe.js';
import { binPath, maiEnv, tempDir, writeBenchConfig } from '../lib/setup.js';
import { ms, p50, p99, plusMs } from '../lib/stats.js';

/**
 * @typedef {object} Observed
 * @property {number} sentAt
 * @property {number} firstAfterRestart performance.now() of the first delta of the answer that counted
 * @property {boolean} restarted
 * @property {{ model: string, attempts: Array<{ model: string, error?: { code: string } }> }} result
 */

/**
 * One chat/send through `mai serve`, streaming.
 * @param {import('../lib/rpc-pipe.js').RpcPipe} mai
 * @param {string} token
 * @param {string} model
 * @returns {Promise<Observed>}
 */
async function turn(mai, token, model) {
  let first = 0;
  let restarted = false;
  const off = mai.onProgress(token, (value) => {
    if (value?.kind === 'restart') {
      restarted = true;
      first = 0;
    } else if (value?.kind === 'delta' && first === 0) first = performance.now();
  });
  const sentAt = performance.now();
  const reply = await mai.request('chat/send', { message: 'Say hello.', model, progressToken: token });
  off();
  if (reply.error) throw new Error(`chat/send failed: ${reply.error.message}\n${mai.stderr()}`);
  return { sentAt, firstAfterRestart: first, restarted, result: /** @type {Observed['result']} */ (reply.result) };
}

/** @param {Observed} o @param {string} scenario */
function expectFallback(o, scenario) {
  if (o.result.model !== 'fallback-model' || o.result.attempts[0]?.model !== 'primary-model' || !o.result.attempts[0]?.error) {
    throw new Error(`${scenario}: expected primary-model to fail and fallback-model to answer, got ${JSON.stringify(o.result.attempts)} → ${o.result.model}`);
  }
}

/**
 * @param {{ smoke: boolean }} options
 * @returns {Promise<import('../lib/report.js').SuiteResult>}
 */
export async function failover({ smoke }) {
  const began = performance.now();
  const runs = smoke ? 1 : 20;
  const fallback = await startLoopbackServer({ models: [{ id: 'fallback-model' }], replyMs: 20, chunks: 20 });
  let primary = await startLoopbackServer({ models: [{ id: 'primary-model' }], replyMs: 20, chunks: 20 });
  const primaryPort = primary.port;
  const dir = await tempDir();
  const config = await writeBenchConfig(dir.path, {
    backends: [
      { name: 'primary', baseURL: primary.baseURL },
      { name: 'fallback', baseURL: fallback.baseURL },
    ],
    monitor: !smoke,
  });
  const mai = spawnRpc({ command: process.execPath, args: [binPath, 'serve', '--config', config], framing: 'content-length', env: maiEnv(dir.path), cwd: dir.path });
  let tokens = 0;
  /** @param {string} model */
  const next = (model) => turn(mai, `failover-${++tokens}`, model);
  /** @type {Record<'healthy' | 'refused' | 'cut', number[]>} */
  const t = { healthy: [], refused: [], cut: [] };
  try {
    const init = await mai.request('initialize', {});
    if (init.error) throw new Error(`initialize failed: ${init.error.message}`);
    // Warm up both paths, and the way back to the primary after each failure (smoke: none;
    // its numbers mean nothing).
    for (let i = 0; i < (smoke ? 0 : 3); i++) {
      await next('primary-model');
      await next('fallback-model');
    }
    for (let i = 0; i < runs; i++) {
      const healthy = await next('fallback-model');
      t.healthy.push(healthy.firstAfterRestart - healthy.sentAt);

      // Refused: the primary listed its model (a fresh listing), then went down.
      const listed = await mai.request('models/list', {});
      if (listed.error) throw new Error(`models/list failed: ${listed.error.message}`);
      await primary.close();
      const refused = await next('primary-model');
      expectFallback(refused, 'refused');
      t.refused.push(refused.firstAfterRestart - refused.sentAt);
      primary = await startLoopbackServer({ models: [{ id: 'primary-model', behaviour: 'cut', cutAfter: 5 }], replyMs: 20, chunks: 20, port: primaryPort });

      // Dies mid-stream: 5 chunks, then the connection drops.
      primary.resetStats();
      const cut = await next('primary-model');
      expectFallback(cut, 'dies mid-stream');
      if (!cut.restarted) throw new Error('dies mid-stream: the client was not told to restart');
      const failedAt = primary.stats.failedAt[0];
      if (failedAt === undefined) throw new Error('dies mid-stream: the primary never dropped the connection');
      t.cut.push(cut.firstAfterRestart - failedAt);
      await primary.close();
      primary = await startLoopbackServer({ models: [{ id: 'primary-model' }], replyMs: 20, chunks: 20, port: primaryPort });
    }
  } finally {
    await mai.close();
    await primary.close();
    await fallback.close();
    await dir.cleanup();
  }
  const refused = p50(t.refused);
  const cut = p50(t.cut);
  return {
    id: 'failover',
    title: '6. Failover to the fallback’s first token',
    header: ['scenario', 'time to the fallback’s first token p50 / p99', 'from', 'healthy turn’s first token p50', 'added by the failover p50'],
    rows: [
      ['primary refuses (down)', `${ms(refused)} / ${ms(p99(t.refused))}`, 'the request (upper bound)', ms(p50(t.healthy)), plusMs(refused - p50(t.healthy))],
      ['primary dies mid-stream', `${ms(cut)} / ${ms(p99(t.cut))}`, 'the dropped connection', ms(p50(t.healthy)), '—'],
    ],
    checks: [
      { name: 'Failover when the primary refuses, to the first token (upper bound)', target: '≤ 50 ms', measured: ms(refused), pass: refused <= 50 },
      { name: 'Failover when the primary dies mid-stream, to the first token', target: '≤ 50 ms', measured: ms(cut), pass: cut <= 50 },
    ],
    notes: [
      `${runs} turns of each scenario, interleaved with a healthy turn straight to the fallback. Config: fallback.retries 0 (a failure moves on at once; with the default retries: 1 a refused connection is retried once after backoffMs, 200 ms, by design) and no cooldown, so every turn tries the primary first.`,
      'Each failover is checked: the primary\'s attempt failed, the fallback answered, and after a cut the client got `restart` before the new answer.',
    ],
    seconds: (performance.now() - began) / 1000,
  };
}
