/**
 * Standing reliability suite (issue 16): many turns through one `mai serve` connection — a burst
 * of concurrent turns, then sequential ones, for several rounds — all answered, and the server's
 * RSS after each round recorded (its growth after the first round must stay bounded). Short
 * variant in `npm test`; MAI_RELIABILITY=long runs 200 concurrent + 2,000 sequential, three rounds.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAIServer, type FakeOpenAIServer } from '../support/openai-server.ts';
import { tempDir, writeConfig, type TempDir } from '../support/harness.ts';
import { loopbackConfig, spawnServe, type ServeProcess } from '../support/rpc-client.ts';
import { recordFigures, scale } from './figures.ts';

/** The child's resident set in MiB, from /proc (Linux). */
function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:')) ?? 'VmRSS: 0 kB';
  return Math.round(Number(/(\d+)/.exec(line)?.[1] ?? 0) / 1024);
}

describe('load on one connection', () => {
  const concurrent = scale(20, 200);
  const sequential = scale(40, 2_000);
  const rounds = scale(2, 3);
  let server: FakeOpenAIServer;
  let dir: TempDir;
  let mai: ServeProcess;
  beforeAll(async () => {
    server = await startOpenAIServer([{ id: 'alpha', reply: 'A short answer.', chunks: 3 }]);
    dir = await tempDir('mai-load-');
    const config = await writeConfig(dir.path, loopbackConfig(server.baseURL).replace('fallback: { retries: 0, backoffMs: 0 }', `fallback: { retries: 0, backoffMs: 0, queueLimit: ${concurrent + 10}, parallelPerModel: 8 }`));
    mai = spawnServe({ config, framing: 'ndjson', stateDir: join(dir.path, 'state') });
  });
  afterAll(async () => {
    mai.child.kill();
    await mai.exited;
    await server.close();
    await dir.cleanup();
  });

  it('every turn is answered; RSS after each round is recorded and its growth bounded', async () => {
    expect((await mai.request('status')).error).toBeUndefined();
    const rss: number[] = [rssMiB(mai.child.pid!)];
    let answered = 0;
    let failed = 0;
    for (let round = 0; round < rounds; round++) {
      const burst = await Promise.all(Array.from({ length: concurrent }, (_, i) => mai.request('chat/send', { message: `burst ${round}.${i}` })));
      for (const reply of burst) {
        if (reply.error) failed++;
        else answered++;
      }
      for (let i = 0; i < sequential; i++) {
        const reply = await mai.request('chat/send', { message: `one by one ${round}.${i}` });
        if (reply.error) failed++;
        else answered++;
      }
      mai.messages.length = 0; // the test client's own log, not the server's memory
      rss.push(rssMiB(mai.child.pid!));
    }
    expect(failed).toBe(0);
    expect(answered).toBe(rounds * (concurrent + sequential));
    // After the first round has warmed everything up, later rounds may not keep growing without bound.
    const growthAfterWarmup = rss.at(-1)! - rss[1]!;
    await recordFigures('load', { concurrent, sequential, rounds, answered, failed, rssMiB: rss, growthAfterFirstRoundMiB: growthAfterWarmup });
    expect(growthAfterWarmup).toBeLessThan(200);
  }, 600_000);
});
