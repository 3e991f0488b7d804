/**
 * Prometheus metrics from the real `mai serve`: the `.prom` textfile parses with an independent
 * Prometheus text parser and its counters match the turns run; the metrics method returns the same;
 * the HTTP listener is off unless configured, binds loopback only, and a non-loopback address is a
 * config error (the CLI's refusal runs its main in this process: no process is needed to refuse a config).
 */
import { readdir, readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import parsePrometheusTextFormat, { type PrometheusFamily as PromFamily } from 'parse-prometheus-text-format';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../core/config/load.ts';
import { startMetricsListener } from '../core/metrics/listener.ts';
import { isLoopbackHost } from '../core/config/loopback.ts';
import { writeConfig, type TempDir } from './support/harness.ts';
import { listeningSockets } from './support/proc-sockets.ts';
import { closedPort, type FakeOpenAIServer } from './support/openai-server.ts';
import { runCliInProcess } from './support/cli-in-process.ts';
import { spawnServe, type ServeProcess } from './support/rpc-client.ts';
import { primaryBackupBackends, useScene } from './support/scene.ts';

const value = (families: PromFamily[], name: string, labels: Record<string, string> = {}): number => {
  const family = families.find((f) => f.name === name);
  const sample = family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return sample ? Number(sample.value ?? sample.count) : 0;
};

/**
 * A histogram's `_count` with these labels. parse-prometheus-text-format checks every line of a
 * histogram but keeps `_count` only for unlabelled ones (it merges labelled samples by `le`), so
 * the count is read from its line.
 */
const histogramCount = (text: string, name: string, labels: Record<string, string>): number => {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => l.startsWith(`${name}_count{`) && wanted.every((w) => l.includes(w)));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
};

describe('Prometheus metrics', () => {
  const scene = useScene();
  let primary: FakeOpenAIServer;
  let backup: FakeOpenAIServer;
  let dir: TempDir;
  let mai: ServeProcess | undefined;

  beforeEach(async () => {
    primary = await scene.openai([{ id: 'primary', reply: 'Primary answers.' }]);
    backup = await scene.openai([{ id: 'backup', reply: 'Backup answers.' }]);
    dir = await scene.dir('mai-metrics-');
  });
  afterEach(async () => {
    if (mai) {
      mai.child.kill();
      await mai.exited;
      mai = undefined;
    }
  });

  const config = (metrics: string) =>
    writeConfig(
      dir.path,
      `${primaryBackupBackends(primary.baseURL, backup.baseURL)}models:
  - { id: primary, tier: large }
  - { id: backup, tier: small }
scorers: [{ use: resource-fit }]
fallback: { retries: 0, backoffMs: 0, failuresBeforeCooldown: 100 }
switching: { preload: false }
monitor: { enabled: false }
context: { stateDir: ./state, summary: digest }
${metrics}
`,
    );

  function serve(file: string): ServeProcess {
    mai = spawnServe({ config: file, framing: 'ndjson', stateDir: join(dir.path, 'state') });
    return mai;
  }

  async function chat(m: ServeProcess, message: string): Promise<string> {
    const reply = await m.request('chat/send', { message });
    expect(reply.error, JSON.stringify(reply.error)).toBeUndefined();
    return (reply.result as { model: string }).model;
  }

  // One process for the textfile, the metrics method and the default of no port: each is what a
  // process started without metrics.listen does.
  it('the .prom textfile parses, its counters match the turns run, and it is rewritten atomically; the metrics method returns the same text, and no port is opened by default', async () => {
    const m = serve(await config('metrics: { textfile: ./textfile/mai.prom, textfileIntervalMs: 100 }'));
    expect(await chat(m, 'One.')).toBe('primary');
    const reply = await m.request('metrics');
    const result = reply.result as { contentType: string; text: string };
    expect(result.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(value(parsePrometheusTextFormat(result.text), 'mai_turns_total', { model: 'primary', outcome: 'ok' })).toBe(1);
    expect(listeningSockets(m.child.pid!)).toEqual([]);
    expect(await chat(m, 'Two.')).toBe('primary');
    primary.models.get('primary')!.behaviour = { kind: 'status', status: 500 };
    expect(await chat(m, 'Three.')).toBe('backup');
    m.send({ jsonrpc: '2.0', id: 1, method: 'shutdown' });
    await m.waitFor((r) => !Array.isArray(r) && r.id === 1);
    m.send({ jsonrpc: '2.0', method: 'exit' });
    expect(await m.exited).toBe(0);
    // The last rewrite happens as Mai closes: the file holds the final counts.
    const text = await readFile(join(dir.path, 'textfile', 'mai.prom'), 'utf8');
    const families = parsePrometheusTextFormat(text);
    expect(value(families, 'mai_turns_total', { model: 'primary', outcome: 'ok' })).toBe(2);
    expect(value(families, 'mai_turns_total', { model: 'backup', outcome: 'ok' })).toBe(1);
    expect(value(families, 'mai_attempt_failures_total', { model: 'primary', code: 'server-error' })).toBe(1);
    expect(value(families, 'mai_fallbacks_total', { from: 'primary', to: 'backup' })).toBe(1);
    expect(value(families, 'mai_switches_total', { from: 'primary', to: 'backup' })).toBe(1);
    expect(families.find((f) => f.name === 'mai_time_to_first_token_seconds')?.type).toBe('HISTOGRAM');
    expect(histogramCount(text, 'mai_time_to_first_token_seconds', { model: 'primary' })).toBe(2);
    expect(histogramCount(text, 'mai_time_to_first_token_seconds', { model: 'backup' })).toBe(1);
    expect(value(families, 'mai_completion_tokens_total', { model: 'primary' })).toBeGreaterThan(0);
    const durations = families.find((f) => f.name === 'mai_turn_duration_seconds')!;
    expect(durations.type).toBe('HISTOGRAM');
    expect(histogramCount(text, 'mai_turn_duration_seconds', { model: 'primary', outcome: 'ok' })).toBe(2);
    expect(histogramCount(text, 'mai_turn_duration_seconds', { model: 'backup', outcome: 'ok' })).toBe(1);
    expect(value(families, 'mai_backend_up', { backend: 'a' })).toBe(1);
    // Conventions: the mai_ prefix, counters end in _total, base units.
    for (const f of families) {
      expect(f.name).toMatch(/^mai_/);
      if (f.type === 'COUNTER') expect(f.name).toMatch(/_total$/);
      if (f.type === 'HISTOGRAM') expect(f.name).toMatch(/_seconds$/);
    }
    // Written beside and renamed over: no temporary file is left.
    expect(await readdir(join(dir.path, 'textfile'))).toEqual(['mai.prom']);
  });

  it('metrics.listen: GET /metrics on loopback, the only socket Mai listens on', async () => {
    const port = await closedPort();
    const m = serve(await config(`metrics: { listen: { host: 127.0.0.1, port: ${port} } }`));
    await chat(m, 'One.');
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(200);
    expect(value(parsePrometheusTextFormat(body), 'mai_turns_total', { model: 'primary', outcome: 'ok' })).toBe(1);
    expect(listeningSockets(m.child.pid!)).toEqual([{ address: '127.0.0.1', port }]);
  });

  it('a non-loopback listen address is a config error that names the fix', async () => {
    for (const host of ['0.0.0.0', '::', '192.168.1.20', 'example.com']) {
      const file = await config(`metrics: { listen: { host: "${host}", port: 9464 } }`);
      expect(() => loadConfig({ flag: file })).toThrow(/metrics\.listen\.host.*loopback address \(127\.0\.0\.1, ::1 or localhost\)/s);
    }
    const file = await config('metrics: { listen: { host: 0.0.0.0, port: 9464 } }');
    const run = await runCliInProcess(['status', '--config', file], { stateDir: join(dir.path, 'state') });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/metrics\.listen\.host.*loopback/);
    // The listener itself refuses too, before binding anything.
    await expect(startMetricsListener({ host: '0.0.0.0', port: 0, metrics: async () => ({ contentType: 'text/plain', text: '' }) })).rejects.toThrow(/not a loopback address/);
  });

  it('isLoopbackHost', () => {
    for (const h of ['127.0.0.1', '127.3.2.1', 'localhost', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '::2', '1::1', 'localhost.example.com', '128.0.0.1', '']) expect(isLoopbackHost(h), h).toBe(false);
  });
});
