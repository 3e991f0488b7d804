/**
 * Pinning one replica, and a dead replica's cooldown in `status` and `models` (issue 14): real
 * llama.cpp-like servers on 127.0.0.1 serving the same model. `switch("m@b")` pins server b: every
 * turn goes there while it is healthy, even while the other server is idle; when b dies the turn
 * moves to the model's other server (never to another model), and status and models say b cools
 * down until when and why, also once b no longer lists the model.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { formatModels } from '../rpc/cli/models.ts';
import { formatStatus } from '../rpc/cli/status.ts';
import { LoadScene } from './support/load-scene.ts';

const backend = (name: string, url: string) => `  - { use: openai, name: ${name}, options: { baseURL: "${url}/v1" } }`;
const extra = `load: { intervalMs: 100, timeoutMs: 500, staleMs: 1500 }
context: { stateDir: ./state, summary: digest }
models: [{ id: m, tier: large }, { id: small, tier: small }]
fallback: { retries: 0, cooldownMs: 600000 }
`;

describe('pinning one replica of a model', () => {
  const scene = new LoadScene();
  afterEach(() => scene.cleanup());

  async function threeServers() {
    const a = await scene.serve({ flavour: 'llamacpp', models: ['m'], slots: 2, replyMs: 20 });
    const b = await scene.serve({ flavour: 'llamacpp', models: ['m'], slots: 2, replyMs: 20 });
    const c = await scene.serve({ flavour: 'llamacpp', models: ['small'], slots: 2, replyMs: 20 });
    const mai = await scene.start(`backends:\n${[backend('a', a.url), backend('b', b.url), backend('c', c.url)].join('\n')}\n${extra}`);
    return { a, b, c, mai };
  }

  it('switch m@b sends every turn to b, even concurrent ones with a idle; status and models show it; a turn may name a replica too', async () => {
    const { a, b, mai } = await threeServers();
    expect(await mai.switch('m@b')).toEqual({ pinned: 'm', replica: 'b' });
    const status = mai.status();
    expect(status).toMatchObject({ pinned: 'm', pinnedReplica: 'b', cooling: [] });
    expect(formatStatus(status, false)).toMatch(/pinned {5}m on b\n/);
    const models = await mai.models();
    expect(models.pinnedReplica).toBe('b');
    expect(models.models.find((x) => x.id === 'm')!.servers.map((s) => [s.backend, s.pinned ?? false])).toEqual([
      ['a', false],
      ['b', true],
    ]);
    expect(formatModels(models)).toMatch(/P pinned \(m@b;/);
    const answers = await Promise.all(['one', 'two', 'three', 'four', 'five', 'six'].map((message) => mai.chat({ message })));
    expect(answers.every((x) => x.model === 'm')).toBe(true);
    expect(b.served).toBe(6);
    expect(a.served).toBe(0);
    // One turn naming the other server (like -m m@a), without touching the pin.
    expect((await mai.chat({ message: 'just this one', model: 'm@a' })).model).toBe('m');
    expect(a.prompts).toEqual(['just this one']);
    expect(mai.status()).toMatchObject({ pinned: 'm', pinnedReplica: 'b' });
  });

  it('a pinned replica that dies: the model’s other replica answers, status and models say until when and why', async () => {
    const { a, b, c, mai } = await threeServers();
    await mai.switch('m@b');
    expect((await mai.chat({ message: 'before' })).model).toBe('m');
    expect(b.prompts).toEqual(['before']);
    await b.kill();
    const after = await mai.chat({ message: 'after' });
    expect(after).toMatchObject({ model: 'm', text: 'Answer to: after.' });
    expect(a.prompts).toEqual(['after']);
    expect(c.served).toBe(0);
    // Cooling: the pinned replica is skipped (no new attempt at b) while the pin stays.
    expect((await mai.chat({ message: 'later' })).model).toBe('m');
    expect(a.prompts).toEqual(['after', 'later']);

    const status = mai.status();
    expect(status).toMatchObject({ pinned: 'm', pinnedReplica: 'b' });
    const cooling = status.cooling.find((x) => x.backend === 'b')!;
    expect(cooling).toMatchObject({ model: 'm', backend: 'b' });
    expect(Date.parse(cooling.until)).toBeGreaterThan(Date.now());
    expect(cooling.reason).toMatch(/ECONNREFUSED|connect|unreachable|refused/i);
    // The time of day, or the whole date when the cooling ends on another day (a run just before midnight).
    const until = String.raw`(?:\d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)`;
    expect(formatStatus(status, false)).toMatch(new RegExp(String.raw`pinned {5}m on b: cooling until ${until} \(.+\); its other servers answer meanwhile`));
    expect(formatStatus(status, false)).toMatch(new RegExp(String.raw`cooling {4}m@b until ${until}: `));

    // `models` lists it (with a fresh listing, b no longer lists m: it still shows while it cools).
    const models = await mai.models();
    const server = models.models.find((x) => x.id === 'm')!.servers.find((s) => s.backend === 'b')!;
    expect(server).toMatchObject({ backend: 'b', listed: false, pinned: true, coolingDownUntil: cooling.until, coolingReason: cooling.reason });
    expect(formatModels(models)).toMatch(new RegExp(String.raw`m@b cools down until ${until}: `));
  });

  it('pinning a server that does not serve the model says which do', async () => {
    const { mai } = await threeServers();
    await expect(mai.switch('m@c')).rejects.toThrow(/m is not served by c now; its servers: a, b\. Pin one of them \(m@a\) or the model \(m\)/);
    expect(mai.status()).toMatchObject({ pinned: null, pinnedReplica: null });
    // A name after @ that is no backend is part of the id: an unknown model.
    await expect(mai.switch('m@nowhere')).rejects.toThrow(/Unknown model "m@nowhere"/);
  });
});
