/**
 * `mai batch -j N` has N prompts answered at once and a few more waiting ready in Mai's queue
 * (chat/send's `concurrency`), so a model server's freed slot never waits for the round trip to
 * the next prompt: the queue's per-client limit, and a real `mai batch` process against a
 * llama.cpp-like server on 127.0.0.1 with more slots than -j, which must never see more than N.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ModelQueue, type Lease } from '../core/fallback/model-queue.ts';
import { readAhead } from '../rpc/cli/batch.ts';
import { tempDir, writeConfig } from './support/harness.ts';
import { runCli } from './support/rpc-client.ts';
import { startSlotServer, type SlotServer } from './support/slot-server.ts';

describe("the queue's per-client limit (a turn's concurrency)", () => {
  it("holds a client's turns beyond its limit without holding anyone else's, and starts them as its leases end", async () => {
    const queue = new ModelQueue({ queueLimit: 4, perModel: 8 });
    const granted: Lease[] = [];
    const batch = (n: number) =>
      Array.from({ length: n }, () => queue.acquire('m', { client: 'batch', priority: 'batch', clientLimit: 2 }).then((lease) => (granted.push(lease), lease)));
    const pending = batch(4);
    await new Promise((r) => setImmediate(r));
    expect(granted).toHaveLength(2);
    expect(queue.status()).toEqual([{ model: 'm', running: 2, waiting: 2 }]);
    // Another client is not held back by the batch's waiting turns, however many times it goes first.
    for (let i = 0; i < 6; i++) (await queue.acquire('m', { client: 'editor' })).release();
    expect(granted).toHaveLength(2);
    granted[0]!.release();
    await new Promise((r) => setImmediate(r));
    expect(granted).toHaveLength(3);
    granted[1]!.release();
    granted[2]!.release();
    await Promise.all(pending);
    expect(granted).toHaveLength(4);
    granted[3]!.release();
    expect(queue.idle()).toBe(true);
  });
});

describe('mai batch -j N against a server with more slots than N', () => {
  let server: SlotServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('keeps exactly N prompts at the server, never more, while a few more wait ready in Mai', async () => {
    expect(readAhead(1)).toBe(1);
    expect(readAhead(8)).toBe(2);
    server = await startSlotServer({ flavour: 'llamacpp', models: ['m'], slots: 8, replyMs: 30 });
    const dir = await tempDir('mai-batch-ahead-');
    try {
      const config = await writeConfig(
        dir.path,
        `backends:\n  - { use: openai, name: box, options: { baseURL: "${server.url}/v1" } }\nload: { intervalMs: 100 }\ncontext: { stateDir: ./state, summary: digest }\n`,
      );
      const prompts = Array.from({ length: 40 }, (_, i) => `prompt ${i + 1}`);
      const run = await runCli(['batch', '-j', '3', '--config', config, '--standalone'], { stateDir: join(dir.path, 'state'), input: `${prompts.join('\n')}\n` });
      expect(run.code, run.stderr).toBe(0);
      const lines = run.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as { id: number; text: string });
      expect(lines.map((l) => l.text)).toEqual(prompts.map((p) => `Answer to: ${p}.`));
      expect(server.served).toBe(40);
      expect(server.maxRunning).toBe(3);
    } finally {
      await dir.cleanup();
    }
  });
});
