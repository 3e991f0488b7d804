/**
 * What the load tests share: model servers on 127.0.0.1 (slot servers and others), one Mai over
 * them in a temp dir, and all of it gone after each test; and `until`, which polls for what an
 * interval-driven sampler will show (never a timing assertion: it only waits).
 */
import type { Mai } from '../../core/mai.ts';
import { createTestMai, snapshot, tempDir, type TempDir } from './harness.ts';
import { startSlotServer, type SlotServer, type SlotServerOptions } from './slot-server.ts';

export async function until(what: string, check: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Runs prompts `concurrency` at a time (as `mai batch` does), each answered "Answer to: PROMPT."; returns the answering models. */
export async function batch(mai: Mai, count: number, concurrency: number, prefix = 'prompt'): Promise<string[]> {
  const models: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const n = ++next;
        const result = await mai.chat({ message: `${prefix} ${n}` });
        if (result.text !== `Answer to: ${prefix} ${n}.`) throw new Error(`${prefix} ${n} was answered ${JSON.stringify(result.text)}`);
        models.push(result.model);
      }
    }),
  );
  return models;
}

export class LoadScene {
  private readonly servers: SlotServer[] = [];
  private readonly closers: Array<() => Promise<void>> = [];
  private dir: TempDir | undefined;
  private mai: Mai | undefined;

  async serve(options: SlotServerOptions): Promise<SlotServer> {
    const server = await startSlotServer(options);
    this.servers.push(server);
    return server;
  }

  /** Closes `close` after the test (another kind of server). */
  own(close: () => Promise<void>): void {
    this.closers.push(close);
  }

  /** A Mai with this config (its last one is closed first), on a machine with `memFreeBytes` free. */
  async start(yaml: string, memFreeBytes?: number): Promise<Mai> {
    await this.stopMai();
    this.dir = await tempDir();
    ({ mai: this.mai } = await createTestMai(this.dir.path, yaml, snapshot(memFreeBytes === undefined ? {} : { memFreeBytes })));
    return this.mai;
  }

  private async stopMai(): Promise<void> {
    await this.mai?.close();
    this.mai = undefined;
    await this.dir?.cleanup();
    this.dir = undefined;
  }

  async cleanup(): Promise<void> {
    await this.stopMai();
    await Promise.all(this.servers.splice(0).map((s) => s.close()));
    await Promise.all(this.closers.splice(0).map((close) => close()));
  }
}
