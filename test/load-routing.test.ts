/**
 * Beyond one machine (issue 14): model servers judged by the load they report, at real HTTP
 * servers on 127.0.0.1 that serve like llama.cpp, vLLM and SGLang (real slots, real queues, real
 * /metrics in Prometheus text) and like Ollama. A backend on "another host" is one whose config
 * says `host:`; traffic only ever goes to 127.0.0.1.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { GiB } from './support/harness.ts';
import { batch, LoadScene, until } from './support/load-scene.ts';
import { startOllamaServer } from './support/ollama-server.ts';
import type { SlotServerOptions } from './support/slot-server.ts';

/**
 * The default config's scorers (no `scorers:` key: the documented set, DEFAULT_SCORERS, load
 * included), with short load sampling so tests need not wait long.
 */
const SCORERS = `
load: { intervalMs: 100, timeoutMs: 500, staleMs: 1500 }
context: { stateDir: ./state, summary: digest }
`;

const backend = (name: string, url: string, extra = '', options = '') => `  - { use: openai, name: ${name}, options: { baseURL: "${url}/v1"${options} }${extra} }`;

describe('model servers on other hosts, routed by their own load', () => {
  const scene = new LoadScene();
  afterEach(() => scene.cleanup());
  const serve = (options: SlotServerOptions) => scene.serve(options);
  const start = (backends: string[], extra = '', memFreeBytes = 16 * GiB) => scene.start(`backends:\n${backends.join('\n')}\n${SCORERS}${extra}`, memFreeBytes);

  it("a remote backend's 70 GB model is not vetoed by this machine's 16 GB; the same server taken as local is", async () => {
    const ollama = await startOllamaServer([{ name: 'llama3:70b', sizeBytes: 70 * GiB, loaded: false }]);
    scene.own(() => ollama.close());
    const ollamaBackend = (host: string) => `  - { use: ollama, name: box, options: { baseURL: "${ollama.url}" }${host} }`;
    const local = await start([ollamaBackend('')]);
    const [vetoed] = (await local.models()).models;
    expect(vetoed).toMatchObject({ fits: false, host: 'local' });
    expect(vetoed!.vetoes.join(' ')).toMatch(/resource-fit: needs ~7\d\.\d\d GB/);
    const remote = await start([ollamaBackend(', host: gpu-box')]);
    const [model] = (await remote.models()).models;
    expect(model).toMatchObject({ id: 'llama3:70b', fits: true, host: 'gpu-box' });
    expect(model!.reasons.join(' ')).toMatch(/on gpu-box: judged by its server's load, not this machine's memory/);
    expect(remote.status().backends[0]).toMatchObject({ name: 'box', host: 'gpu-box', local: false });
    expect((await remote.chat({ message: 'hello' })).model).toBe('llama3:70b');
  });

  it('a batch of 32 prompts with the default parallel limit keeps a 4-slot llama.cpp server at 4 turns in flight, never more', async () => {
    const box = await serve({ flavour: 'llamacpp', models: ['m'], slots: 4, replyMs: 60 });
    const m = await start([backend('box', box.url)]);
    await until('the first load sample', () => m.status().backends[0]!.load?.slots === 4);
    await batch(m, 32, 8);
    expect(box.served).toBe(32);
    expect(box.maxRunning).toBe(4);
    const model = (await m.models()).models[0]!;
    expect(model.servers[0]).toMatchObject({ backend: 'box', slots: 4, slotsFrom: 'server' });
  });

  it('two replicas of one model share a batch within 60/40', async () => {
    const a = await serve({ flavour: 'llamacpp', models: ['m'], slots: 2, replyMs: 40 });
    const b = await serve({ flavour: 'vllm', models: ['m'], slots: 2, replyMs: 40 });
    // vLLM publishes no slot count: this one is declared to batch 2 at once, like the llama.cpp one.
    const m = await start([backend('a', a.url), backend('b', b.url, '', ', batchSlots: 2')]);
    const models = await batch(m, 40, 4);
    expect(new Set(models)).toEqual(new Set(['m']));
    expect(a.served + b.served).toBe(40);
    expect(a.served / 40).toBeGreaterThanOrEqual(0.4);
    expect(a.served / 40).toBeLessThanOrEqual(0.6);
  });

  it("a conversation's turns stay on the replica that answered its first, while it is idle", async () => {
    const a = await serve({ flavour: 'llamacpp', models: ['m'], slots: 1 });
    const b = await serve({ flavour: 'llamacpp', models: ['m'], slots: 1 });
    const m = await start([backend('a', a.url), backend('b', b.url)]);
    const first = await m.chat({ message: 'one' });
    const other = await m.chat({ message: 'other conversation' });
    void other;
    for (const message of ['two', 'three', 'four', 'five']) await m.chat({ message, conversationId: first.conversationId });
    const holder = a.prompts.includes('one') ? a : b;
    expect(holder.prompts.filter((p) => ['one', 'two', 'three', 'four', 'five'].includes(p))).toEqual(['one', 'two', 'three', 'four', 'five']);
  });

  it('when a replica dies, the other replica takes over before any other model', async () => {
    const a = await serve({ flavour: 'llamacpp', models: ['big'], slots: 2 });
    const b = await serve({ flavour: 'llamacpp', models: ['big'], slots: 2 });
    const small = await serve({ flavour: 'llamacpp', models: ['small'], slots: 2 });
    const m = await start([backend('a', a.url), backend('b', b.url), backend('c', small.url)], 'models: [{ id: big, tier: large }, { id: small, tier: small }]\nfallback: { retries: 0 }\n');
    const first = await m.chat({ message: 'hello' });
    expect(first.model).toBe('big');
    const holder = a.prompts.includes('hello') ? a : b;
    const other = holder === a ? b : a;
    await holder.kill();
    const next = await m.chat({ message: 'again', conversationId: first.conversationId });
    expect(next.model).toBe('big');
    expect(other.prompts).toContain('again');
    expect(small.served).toBe(0);
    await until('the dead replica shows in status', () => m.status().backends.find((s) => s.name === (holder === a ? 'a' : 'b'))?.load?.error !== undefined);
  });

  it("a saturated server's turns go to another model", async () => {
    const busy = await serve({ flavour: 'vllm', models: ['big'], slots: 2 });
    const idle = await serve({ flavour: 'sglang', models: ['small'], slots: 2 });
    const m = await start([backend('busy', busy.url, ', host: cluster'), backend('idle', idle.url, ', host: other-box')], 'models: [{ id: big, tier: large }, { id: small, tier: small }]\n');
    expect((await m.chat({ message: 'warm' })).model).toBe('big');
    busy.foreign(2 + 6); // other clients: both slots and 6 waiting (load scorer's maxQueue is 4)
    await until('the busy server reported', () => (m.status().backends[0]!.load?.waiting ?? 0) >= 6);
    const result = await m.chat({ message: 'hello' });
    expect(result.model).toBe('small');
    const big = (await m.models()).models.find((x) => x.id === 'big')!;
    expect(big.vetoes.join(' ')).toMatch(/load: saturated: busy on cluster: \d+\/2 busy, 6 waiting/);
    busy.releaseForeign();
  });
});
