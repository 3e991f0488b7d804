/**
 * Bad load figures (issue 14): a /metrics that is missing, slow, huge or not Prometheus text; a
 * server that lies about its slots; a replica that flaps; an Ollama whose clock differs from this
 * machine's. None stalls a turn: the turn is answered, the figures age out (the model is then of
 * unknown load), and each is visible in `status`. Real HTTP servers on 127.0.0.1.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Mai, StatusReport } from '../core/mai.ts';
import { LoadScene, until } from './support/load-scene.ts';
import { startOllamaServer } from './support/ollama-server.ts';
import type { SlotServerOptions } from './support/slot-server.ts';

const base = (load: string) => `
scorers: [{ use: context-fit }, { use: reliability, weight: 2 }, { use: load }]
load: { intervalMs: 100, timeoutMs: 300, staleMs: 1000${load} }
context: { stateDir: ./state, summary: digest }
`;
const openai = (name: string, url: string) => `  - { use: openai, name: ${name}, options: { baseURL: "${url}/v1" } }`;


describe('bad load figures never stall a turn and show in status', () => {
  const scene = new LoadScene();
  afterEach(() => scene.cleanup());
  const serve = (options: SlotServerOptions) => scene.serve(options);
  const start = (backends: string[], load = '') => scene.start(`backends:\n${backends.join('\n')}\n${base(load)}`);
  const loadOf = (m: Mai, name = 'box'): NonNullable<StatusReport['backends'][number]['load']> | undefined => m.status().backends.find((b) => b.name === name)?.load;

  it.each([
    ['missing', /no \/metrics \(llama\.cpp needs --metrics, SGLang --enable-metrics\)/, ''],
    ['slow', /did not report its load within 300 ms/, ''],
    ['huge', /GET \/metrics sent more than the 65536 bytes read \(load\.maxBytes\)/, ', maxBytes: 65536'],
    ['garbage', /GET \/metrics is not Prometheus text/, ''],
  ] as const)('a vLLM /metrics that is %s: the turn is answered, the model is of unknown load, status says why', async (metrics, why, load) => {
    const box = await serve({ flavour: 'vllm', models: ['m'], slots: 2, metrics });
    const m = await start([openai('box', box.url)], load);
    await until(`the probe to fail with ${why}`, () => why.test(loadOf(m)?.error ?? ''));
    expect((await m.chat({ message: 'hello' })).text).toBe('Answer to: hello.');
    const [model] = (await m.models()).models;
    expect(model!.servers[0]).toMatchObject({ slotsFrom: 'config', slots: 1 });
    expect(model!.reasons.join(' ')).toMatch(/load: load unknown/);
  });

  it('figures that stop coming age out: stale in status, the model then of unknown load', async () => {
    const box = await serve({ flavour: 'vllm-old', models: ['m'], slots: 2 });
    const m = await start([openai('box', box.url)]);
    await until('a first sample', () => loadOf(m)?.source === 'vLLM /metrics');
    expect(loadOf(m)).toMatchObject({ running: 0, waiting: 0, kvUsage: 0, stale: false });
    box.metrics = 'slow';
    await until('the figures to age out', () => loadOf(m)?.stale === true);
    expect(loadOf(m)!.notes.join(' ')).toMatch(/too old \(load\.staleMs 1000\): load unknown/);
    expect((await m.chat({ message: 'still there?' })).text).toBe('Answer to: still there?.');
  });

  it('a llama.cpp server that says 8 slots but runs 2 is believed 2 once it queues; one that says 100000 is capped', async () => {
    const liar = await serve({ flavour: 'llamacpp', models: ['m'], slots: 2, reportedSlots: 8, replyMs: 80 });
    const m = await start([openai('box', liar.url)]);
    await until('a first sample', () => loadOf(m)?.slots === 8);
    let seen = '';
    const watching = until('the lie to show', () => {
      seen = loadOf(m)?.notes.join(' ') ?? '';
      return /says 8 slots but queues \d+ with 2 running: believed 2/.test(seen);
    });
    const answers = await Promise.all(Array.from({ length: 16 }, (_, i) => m.chat({ message: `p${i}` })));
    await watching;
    expect(answers.every((a, i) => a.text === `Answer to: p${i}.`)).toBe(true);
    const boaster = await serve({ flavour: 'llamacpp', models: ['m'], slots: 2, reportedSlots: 100_000 });
    const n = await start([openai('box', boaster.url)]);
    await until('a first sample', () => loadOf(n)?.slots !== null && loadOf(n)?.slots !== undefined);
    expect(loadOf(n)).toMatchObject({ slots: 64, notes: [expect.stringMatching(/reported 100000 slots: believed 64 \(load\.maxSlots\)/)] });
  });

  it('a replica that flaps: every turn is answered by the model, by whichever replica is up', async () => {
    const a = await serve({ flavour: 'llamacpp', models: ['m'], slots: 1 });
    const b = await serve({ flavour: 'llamacpp', models: ['m'], slots: 1 });
    const m = await start([openai('a', a.url), openai('b', b.url)], '');
    for (let i = 0; i < 10; i++) {
      if (i % 2 === 0) await a.kill();
      else await a.revive();
      const result = await m.chat({ message: `turn ${i}` });
      expect(result).toMatchObject({ model: 'm', text: `Answer to: turn ${i}.` });
    }
    expect(a.served + b.served).toBe(10);
    expect(b.served).toBeGreaterThan(0);
  });

  it("an Ollama whose clock differs (expires_at in the past): the model stays loaded, status notes the skew", async () => {
    const ollama = await startOllamaServer([{ name: 'qwen2.5:0.5b', loaded: true }], { expiresAt: '2001-01-01T00:00:00Z' });
    scene.own(() => ollama.close());
    const m = await start([`  - { use: ollama, name: box, options: { baseURL: "${ollama.url}" } }`]);
    await until('a first sample', () => loadOf(m)?.source === 'Ollama /api/ps');
    expect(loadOf(m)!.notes.join(' ')).toMatch(/qwen2\.5:0\.5b expires_at 2001-01-01T00:00:00Z is \d+ s in the past: the server's clock differs; taken as loaded/);
    expect((await m.chat({ message: 'hi' })).model).toBe('qwen2.5:0.5b');
  });
});
