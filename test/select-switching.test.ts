/**
 * Silent switching through the Mai facade with the real Ollama backend against the Ollama test
 * server on loopback (load = empty chat, unload = keep_alive 0). The machine's memory is simulated
 * from what that server has loaded — a model that is unloaded gives its memory back only after a
 * delay, as a real runtime does — so the switcher's "wait until it is really free" is visible.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../core/config/load.ts';
import { isMaiError } from '../core/errors.ts';
import { createLogger } from '../core/log.ts';
import { Mai } from '../core/mai.ts';
import type { ResourceMonitor } from '../core/monitor/resource-monitor.ts';
import type { ResourceSnapshot } from '../core/types.ts';
import { GiB, tempDir, writeConfig, type TempDir } from './support/harness.ts';
import { startOllamaServer, type FakeOllamaModel, type FakeOllamaServer } from './support/ollama-server.ts';
import { builtinPlugins } from '../plugins/index.ts';


/** Free memory = total − other programs − what the Ollama server has loaded (released `releaseDelayMs` after an unload). */
class SimulatedMachine implements ResourceMonitor {
  samples = 0;
  private readonly seenLoaded = new Set<string>();
  private readonly unloadedAt = new Map<string, number>();
  constructor(
    private readonly server: FakeOllamaServer,
    public totalBytes: number,
    public otherBytes: number,
    public releaseDelayMs: number,
  ) {}
  private read(): ResourceSnapshot {
    const now = Date.now();
    let used = this.otherBytes;
    for (const m of this.server.models.values()) {
      if (m.loaded) {
        this.seenLoaded.add(m.name);
        this.unloadedAt.delete(m.name);
        used += m.sizeBytes ?? 0;
      } else if (this.seenLoaded.has(m.name)) {
        const at = this.unloadedAt.get(m.name) ?? now;
        this.unloadedAt.set(m.name, at);
        if (now - at < this.releaseDelayMs) used += m.sizeBytes ?? 0;
      }
    }
    return { cpuLoad: 0.2, memFreeBytes: Math.max(0, this.totalBytes - used), memTotalBytes: this.totalBytes, gpus: [], sampledAt: now };
  }
  latest(): ResourceSnapshot {
    return this.read();
  }
  async current(): Promise<ResourceSnapshot> {
    return this.read();
  }
  async sample(): Promise<ResourceSnapshot> {
    this.samples++;
    return this.read();
  }
  start(): void {}
  async close(): Promise<void> {}
}

/** Each POST /api/chat the server got, with when it arrived: a load, an unload or a chat. */
function timeline(server: FakeOllamaServer): Array<{ what: string; at: number }> {
  const events: Array<{ what: string; at: number }> = [];
  const push = server.chats.push.bind(server.chats);
  server.chats.push = (...records) => {
    for (const r of records) {
      const what = r.messages.length > 0 ? 'chat' : r.keep_alive === 0 ? 'unload' : 'load';
      events.push({ what: `${what} ${r.model}`, at: Date.now() });
    }
    return push(...records);
  };
  return events;
}

async function until(check: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('silent switching with the real Ollama backend', () => {
  let server: FakeOllamaServer;
  let dir: TempDir;
  let mai: Mai | undefined;
  afterEach(async () => {
    await mai?.close();
    mai = undefined;
    await server?.close();
    await dir?.cleanup();
  });

  async function start(models: FakeOllamaModel[], machine: (s: FakeOllamaServer) => SimulatedMachine, extra: string): Promise<{ mai: Mai; machine: SimulatedMachine; events: Array<{ what: string; at: number }> }> {
    server = await startOllamaServer(models);
    dir = await tempDir();
    const file = await writeConfig(
      dir.path,
      `
backends:
  - use: ollama
    options: { baseURL: ${server.url} }
models:
  - { id: big, tier: large, contextLength: 2048 }
  - { id: medium, tier: medium, contextLength: 2048, capabilities: [chat, vision] }
  - { id: small, tier: small, contextLength: 2048 }
  - { id: a, tier: medium, contextLength: 2048 }
  - { id: b, tier: medium, contextLength: 2048 }
scorers:
  - { use: resource-fit, weight: 3 }
  - { use: context-fit }
  - { use: capability }
  - { use: reliability }
${extra}
`,
    );
    const m = machine(server);
    mai = await Mai.create({ plugins: builtinPlugins, loaded: loadConfig({ flag: file }), log: createLogger('test', 'silent'), createMonitor: () => m });
    return { mai, machine: m, events: timeline(server) };
  }

  it('unloads the current model, waits until its memory is really free, loads the new one; the reply never mentions it', async () => {
    const { mai, machine, events } = await start(
      [
        { name: 'big', sizeBytes: 10 * GiB, loaded: true, reply: 'Big here.' },
        { name: 'medium', sizeBytes: 6 * GiB, reply: 'I can see the picture.' },
        { name: 'small', sizeBytes: 1 * GiB },
      ],
      (s) => new SimulatedMachine(s, 16 * GiB, 2 * GiB, 400),
      'switching: { unloadWaitMs: 5000, minDwellMs: 0, preload: false }',
    );
    expect((await mai.chat({ message: 'hi' })).model).toBe('big');
    const before = events.length;
    const result = await mai.chat({ message: 'What is in this image?', capabilities: ['chat', 'vision'] });
    expect(result.model).toBe('medium');
    expect(result.text).toBe('I can see the picture.');
    const turn = events.slice(before);
    expect(turn.map((e) => e.what)).toEqual(['unload big', 'load medium', 'chat medium']);
    // The load waited for the memory the unload gave back (it shows 400 ms later), polling fresh samples.
    expect(turn[1]!.at - turn[0]!.at).toBeGreaterThanOrEqual(380);
    expect(machine.samples).toBeGreaterThan(1);
    const status = mai.status();
    expect(status.model).toBe('medium');
    expect(status.lastSwitch).toMatchObject({ from: 'big', to: 'medium', reason: expect.stringMatching(/big no longer fits \(capability: lacks vision\)/) });
    expect(Date.now() - Date.parse(status.lastSwitch!.at)).toBeLessThan(60_000);
    expect(status.counters.switches).toBe(1);
  });

  it('waits at most unloadWaitMs for memory that never shows as free, then loads anyway', async () => {
    const { mai, events } = await start(
      [
        { name: 'big', sizeBytes: 10 * GiB, loaded: true },
        { name: 'medium', sizeBytes: 6 * GiB, reply: 'Loaded anyway.' },
      ],
      (s) => new SimulatedMachine(s, 16 * GiB, 2 * GiB, Number.POSITIVE_INFINITY),
      'switching: { unloadWaitMs: 500, minDwellMs: 0, preload: false }',
    );
    await mai.chat({ message: 'hi' });
    const before = events.length;
    const result = await mai.chat({ message: 'look', capabilities: ['vision'] });
    expect(result.text).toBe('Loaded anyway.');
    const turn = events.slice(before);
    expect(turn.map((e) => e.what)).toEqual(['unload big', 'load medium', 'chat medium']);
    const waited = turn[1]!.at - turn[0]!.at;
    expect(waited).toBeGreaterThanOrEqual(450);
    expect(waited).toBeLessThan(5_000);
  });

  it('preloads the fallback while idle, so a fallback finds it loaded; under memory pressure it moves to the lighter model and unloads the heavy one', async () => {
    const { mai, machine, events } = await start(
      [
        { name: 'big', sizeBytes: 10 * GiB, reply: 'Big here.' },
        { name: 'small', sizeBytes: 2 * GiB, reply: 'Small here.' },
      ],
      (s) => new SimulatedMachine(s, 32 * GiB, 2 * GiB, 0),
      'switching: { minDwellMs: 0, preload: true }',
    );
    const first = await mai.chat({ message: 'hi' });
    expect(first.model).toBe('big');
    expect(events.map((e) => e.what).slice(0, 2)).toEqual(['load big', 'chat big']);
    // Idle now: the model big would fall back to is loaded in the background.
    await until(() => server.models.get('small')!.loaded === true, 'the preload of small');
    expect(events.map((e) => e.what)).toContain('load small');

    // big fails: the fallback is already loaded (no load on the turn's path).
    server.models.get('big')!.behaviour = { kind: 'status', status: 500, error: 'model runner has unexpectedly stopped' };
    const before = events.length;
    const fallback = await mai.chat({ message: 'again' });
    expect(fallback.model).toBe('small');
    expect(events.slice(before).map((e) => e.what)).toEqual(['chat big', 'chat big', 'chat small']);
    server.models.get('big')!.behaviour = { kind: 'ok' };

    // Back on big by choice (it is the best and memory is fine)…
    expect((await mai.chat({ message: 'big please', model: 'big' })).model).toBe('big');
    await mai.chat({ message: 'and again' });
    expect(mai.status().model).toBe('big');
    // …until other programs take memory: 29.5 of 32 GiB used.
    machine.otherBytes = 17.5 * GiB;
    const pressed = await mai.chat({ message: 'still there?' });
    expect(pressed.model).toBe('small');
    expect(pressed.text).toBe('Small here.');
    expect(mai.status().lastSwitch).toMatchObject({ from: 'big', to: 'small', reason: expect.stringMatching(/^proactive: memory \d+ % used \(threshold 90 %\)/) });
    await until(() => server.models.get('big')!.loaded === false, 'big to be unloaded');
  });

  it('groups queued turns by model: five turns for a, b, a, b, a swap models once, not four times', async () => {
    const { mai, events } = await start(
      [
        { name: 'a', sizeBytes: 8 * GiB, reply: 'A.', chunkDelayMs: 40 },
        { name: 'b', sizeBytes: 8 * GiB, reply: 'B.', chunkDelayMs: 40 },
      ],
      (s) => new SimulatedMachine(s, 16 * GiB, 2 * GiB, 50),
      'switching: { minDwellMs: 0, preload: false }',
    );
    await mai.models();
    const results = await Promise.all(['a', 'b', 'a', 'b', 'a'].map((model, i) => mai.chat({ message: `turn ${i}`, model })));
    expect(results.map((r) => r.model)).toEqual(['a', 'b', 'a', 'b', 'a']);
    const order = events.map((e) => e.what);
    expect(order.filter((w) => w.startsWith('chat'))).toEqual(['chat a', 'chat a', 'chat a', 'chat b', 'chat b']);
    expect(order.filter((w) => !w.startsWith('chat'))).toEqual(['load a', 'unload a', 'load b']);
  });
});

describe('proactive switching on slow replies, and the dwell time', () => {
  let server: FakeOllamaServer;
  let dir: TempDir;
  let mai: Mai | undefined;
  beforeEach(async () => {
    server = await startOllamaServer([
      { name: 'big', sizeBytes: 4 * GiB, loaded: true, reply: 'slow answer', chunks: 4, chunkDelayMs: 120 },
      { name: 'small', sizeBytes: 1 * GiB, loaded: true, reply: 'quick answer' },
    ]);
    dir = await tempDir();
  });
  afterEach(async () => {
    await mai?.close();
    await server.close();
    await dir.cleanup();
  });

  const create = async (minDwellMs: number) => {
    const file = await writeConfig(
      dir.path,
      `
backends: [{ use: ollama, options: { baseURL: ${server.url} } }]
models:
  - { id: big, tier: large, contextLength: 2048 }
  - { id: small, tier: small, contextLength: 2048 }
scorers: [{ use: resource-fit }]
switching: { slowReplyMs: 300, minDwellMs: ${minDwellMs}, preload: false }
`,
    );
    const machine = new SimulatedMachine(server, 32 * GiB, 2 * GiB, 0);
    return Mai.create({ plugins: builtinPlugins, loaded: loadConfig({ flag: file }), log: createLogger('test', 'silent'), createMonitor: () => machine });
  };

  it('replies slower than switching.slowReplyMs move the next turn to a lighter model', async () => {
    mai = await create(0);
    expect((await mai.chat({ message: 'one' })).model).toBe('big');
    const next = await mai.chat({ message: 'two' });
    expect(next.model).toBe('small');
    expect(next.text).toBe('quick answer');
    expect(mai.status().lastSwitch?.reason).toMatch(/^proactive: replies take ~\d+ ms \(threshold 300 ms\)/);
  });

  it('but not within switching.minDwellMs of the last switch', async () => {
    mai = await create(600_000);
    expect((await mai.chat({ message: 'one' })).model).toBe('big');
    expect((await mai.chat({ message: 'two' })).model).toBe('big');
    expect(mai.status().counters.switches).toBe(0);
  });
});

describe('a bounded queue per model', () => {
  let server: FakeOllamaServer;
  let dir: TempDir;
  let mai: Mai | undefined;
  afterEach(async () => {
    await mai?.close();
    await server.close();
    await dir.cleanup();
  });

  it('turns beyond fallback.queueLimit get a clear queue-full error; the others are answered one at a time', async () => {
    server = await startOllamaServer([{ name: 'only', sizeBytes: 1 * GiB, loaded: true, reply: 'done', chunkDelayMs: 60 }]);
    dir = await tempDir();
    const file = await writeConfig(dir.path, `
backends: [{ use: ollama, options: { baseURL: ${server.url} } }]
scorers: [{ use: resource-fit }]
fallback: { queueLimit: 1 }
`);
    const machine = new SimulatedMachine(server, 32 * GiB, 2 * GiB, 0);
    mai = await Mai.create({ plugins: builtinPlugins, loaded: loadConfig({ flag: file }), log: createLogger('test', 'silent'), createMonitor: () => machine });
    await mai.models();
    const settled = await Promise.allSettled([1, 2, 3].map((i) => mai!.chat({ message: `turn ${i}` })));
    const rejected = settled.filter((s) => s.status === 'rejected');
    expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(2);
    expect(rejected).toHaveLength(1);
    const error = (rejected[0] as PromiseRejectedResult).reason;
    expect(isMaiError(error, 'queue-full')).toBe(true);
    expect((error as Error).message).toMatch(/1 turns are already waiting for only \(fallback\.queueLimit is 1\)/);
    expect(server.chats.filter((c) => c.messages.length > 0)).toHaveLength(2);
  });
});
