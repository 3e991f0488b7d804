/** Where a backend runs (issue 14): loopback and unix-socket addresses are this machine, `host:` overrides. */
import { describe, expect, it } from 'vitest';
import { sanitizeLoad } from '../core/load/load-board.ts';
import { locate } from '../core/load/locality.ts';
import { parseMetrics, total } from '../plugins/backends/load-probes/prometheus.ts';

describe('locate', () => {
  it.each([
    [undefined, undefined, 'local', true],
    [undefined, 'http://127.0.0.1:8080/v1', 'local', true],
    [undefined, 'http://127.3.4.5:8080', 'local', true],
    [undefined, 'http://localhost:11434', 'local', true],
    [undefined, 'http://[::1]:1234', 'local', true],
    [undefined, 'unix:/run/llama.sock', 'local', true],
    [undefined, 'http://10.0.0.12:8080/v1', '10.0.0.12', false],
    [undefined, 'https://vllm.internal/v1', 'vllm.internal', false],
    ['gpu-box', 'http://127.0.0.1:8080/v1', 'gpu-box', false],
    ['local', 'http://10.0.0.12:8080/v1', 'local', true],
  ] as const)('host %s, endpoint %s: %s', (declared, endpoint, host, local) => {
    expect(locate(declared, endpoint)).toEqual({ host, local });
  });
});

describe('load figures', () => {
  it('sums a metric over its label sets and refuses a page that is not Prometheus text', () => {
    const page = parseMetrics('# TYPE vllm:num_requests_waiting gauge\nvllm:num_requests_waiting{engine="0"} 2.0\nvllm:num_requests_waiting{engine="1"} 3.0\n');
    expect(total(page, 'vllm:num_requests_waiting')).toBe(5);
    expect(total(page, 'vllm:num_requests_running')).toBeNull();
    expect(() => parseMetrics('{"error":"nope"}')).toThrow(/not Prometheus text/);
  });

  it('drops impossible figures and says so', () => {
    const load = sanitizeLoad({ slots: -3, running: -1, waiting: Number.NaN, kvUsage: 87, source: 'x' }, 64);
    expect(load).toMatchObject({ slots: null, running: null, waiting: null, kvUsage: 0.87, notes: ['reported -3 slots: ignored'] });
  });
});
