/**
 * `mai batch`: prompts piped on stdin, one JSON result a line on stdout in input order, N prompts
 * in flight at once (seen from the loopback server's side), and failed prompts reported as results
 * with `error` without ending the batch. The cases run `main(argv, io)` in this process
 * (test/support/cli-in-process.ts) against a real loopback server and real files; the real binary
 * runs a batch over a real pipe.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';
import { tempDir, writeConfig, type TempDir } from './support/harness.ts';
import { runCliInProcess } from './support/cli-in-process.ts';
import { loopbackConfig, runCli } from './support/rpc-client.ts';

interface BatchResult {
  id: string | number;
  text?: string;
  model?: string;
  conversationId?: string;
  error?: { code: number; message: string; data?: Record<string, unknown> };
}

describe('mai batch', () => {
  let server: FakeOpenAIServer;
  let dir: TempDir;
  let config: string;
  beforeEach(async () => {
    // Mai runs one turn per model at a time, so four models let four prompts run side by side.
    const echo = (messages: Array<{ role: string; content: string }>) => `echo: ${messages.at(-1)?.content ?? ''}`;
    server = await startOpenAIServer(['m0', 'm1', 'm2', 'm3'].map((id) => ({ id, reply: echo, chunks: 2, chunkDelayMs: 5 })));
    dir = await tempDir('mai-batch-');
    config = await writeConfig(dir.path, loopbackConfig(server.baseURL));
  });
  afterEach(async () => {
    await server.close();
    await dir.cleanup();
  });

  const parse = (stdout: string) => stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as BatchResult);

  // 60 prompts: the batch keeps concurrency + readAhead(concurrency) = 5 in flight whatever its length,
  // so 60 (15 per model, a third plain lines) meet every order the answers can come back in as 200 did,
  // at 140 fewer turns through Mai.
  it('answers 60 piped prompts with 60 lines in input order, several at once', async () => {
    const lines = Array.from({ length: 60 }, (_, i) =>
      i % 3 === 0 ? `plain prompt ${i}` : JSON.stringify({ id: `p${i}`, prompt: `json prompt ${i}`, model: `m${i % 4}` }),
    );
    const run = await runCliInProcess(['batch', '--concurrency', '4', '--config', config], { stateDir: join(dir.path, 'state'), input: `${lines.join('\n')}\n` });
    expect(run.code, run.stderr).toBe(0);
    const results = parse(run.stdout);
    expect(results).toHaveLength(60);
    results.forEach((result, i) => {
      expect(result.error).toBeUndefined();
      if (i % 3 === 0) {
        expect(result.id).toBe(i + 1); // a plain line's id is its line number
        expect(result.text).toBe(`echo: plain prompt ${i}`);
      } else {
        expect(result.id).toBe(`p${i}`);
        expect(result.text).toBe(`echo: json prompt ${i}`);
        expect(result.model).toBe(`m${i % 4}`);
      }
    });
    expect(server.requests).toHaveLength(60);
    expect(server.concurrency.max).toBeGreaterThan(1);
    // No progress bar: stderr is not a terminal here.
    expect(run.stderr).not.toMatch(/\[#/);
  }, 120_000);

  it('-j beyond fallback.parallelPerModel says on stderr where to raise it; with it raised, one model answers several at once', async () => {
    const lines = Array.from({ length: 8 }, (_, i) => JSON.stringify({ prompt: `q${i}`, model: 'm0' }));
    const queued = await runCliInProcess(['batch', '-j', '4', '--config', config], { stateDir: join(dir.path, 'state'), input: lines.join('\n') });
    expect(queued.code, queued.stderr).toBe(0);
    expect(queued.stderr).toMatch(/4 prompts at once, but a model answers 1 turn at a time \(fallback\.parallelPerModel in .*mai\.config\.yaml\)/);
    expect(server.concurrency.max).toBe(1);

    // Each answer waits at the server until a second one has arrived (or 5 s, so a broken limit fails rather than
    // hangs): whether turns overlap is then decided by Mai's limit, not by how fast the machine is (a 10 ms answer
    // often ended before the next turn was sent, at load 20).
    const before = server.requests.length;
    const held: Array<() => void> = [];
    for (const model of server.models.values()) {
      model.hold = () => {
        if (server.requests.length - before >= 2) {
          for (const release of held.splice(0)) release();
          return Promise.resolve();
        }
        return new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 5_000);
          held.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      };
    }
    const raised = await writeConfig(dir.path, loopbackConfig(server.baseURL).replace('fallback: { retries: 0, backoffMs: 0 }', 'fallback: { retries: 0, backoffMs: 0, parallelPerModel: 4 }'), 'raised.yaml');
    const parallel = await runCliInProcess(['batch', '-j', '4', '--config', raised], { stateDir: join(dir.path, 'state'), input: lines.join('\n') });
    expect(parallel.code, parallel.stderr).toBe(0);
    expect(parallel.stderr).not.toMatch(/parallelPerModel/);
    expect(parse(parallel.stdout).map((r) => r.text)).toEqual(lines.map((_, i) => `echo: q${i}`));
    expect(server.concurrency.max).toBeGreaterThan(1);
  });

  it('the default run says nothing about concurrency (3 prompts, default -j, one turn per model), and --json is accepted (the real binary, over a pipe)', async () => {
    const lines = ['one', 'two', 'three'];
    const run = await runCli(['batch', '--json', '--config', config], { stateDir: join(dir.path, 'state'), input: lines.join('\n') });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toBe('');
    expect(parse(run.stdout).map((r) => r.text)).toEqual(lines.map((l) => `echo: ${l}`));
    // -j chosen but no more prompts in flight than a model answers: nothing to say either.
    const one = await runCliInProcess(['batch', '-j', '8', '--config', config], { stateDir: join(dir.path, 'state'), input: 'just one\n' });
    expect(one.code, one.stderr).toBe(0);
    expect(one.stderr).not.toMatch(/parallelPerModel/);
  });

  it('with --concurrency 1 runs one prompt at a time', async () => {
    const lines = Array.from({ length: 12 }, (_, i) => JSON.stringify({ prompt: `q${i}`, model: `m${i % 4}` }));
    const run = await runCliInProcess(['batch', '-j', '1', '--config', config], { stateDir: join(dir.path, 'state'), input: lines.join('\n') });
    expect(run.code, run.stderr).toBe(0);
    expect(parse(run.stdout).map((r) => r.text)).toEqual(lines.map((_, i) => `echo: q${i}`));
    expect(server.concurrency.max).toBe(1);
  });

  it('a failed prompt is a result with error, and the batch goes on (exit code 1)', async () => {
    const file = join(dir.path, 'prompts.txt');
    await writeFile(
      file,
      ['first', '{"prompt": "to an unknown model", "model": "nope"}', '{not json', '', '{"id": 7, "prompt": ""}', '{"prompt": "last", "conversationId": "c-1"}'].join('\n'),
    );
    const run = await runCliInProcess(['batch', file, '--config', config], { stateDir: join(dir.path, 'state') });
    expect(run.code).toBe(1);
    const results = parse(run.stdout);
    expect(results.map((r) => r.id)).toEqual([1, 2, 3, 7, 6]);
    expect(results[0]?.text).toBe('echo: first');
    expect(results[1]?.error).toMatchObject({ code: -32602, data: { code: 'unknown-model', model: 'nope' } });
    expect(results[1]?.error?.message).toMatch(/m0/);
    expect(results[2]?.error?.message).toMatch(/line 3 starts with "\{" but is not valid JSON/);
    // A line Mai cannot read is an invalid-params error like the server's, built by rpc/errors.ts.
    expect(results[2]?.error).toMatchObject({ code: -32602, data: { code: 'invalid-params', retryable: false } });
    expect(results[3]?.error?.message).toMatch(/prompt: the prompt is empty/);
    expect(results[4]).toMatchObject({ text: 'echo: last', conversationId: 'c-1' });
    expect(run.stderr).toMatch(/3 of 5 prompt\(s\) failed/);
  });

  it('explains its usage mistakes with exit code 2', async () => {
    const bad = await runCliInProcess(['batch', '--concurrency', 'lots', '--config', config], { stateDir: join(dir.path, 'state'), input: 'x\n' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--concurrency must be a whole number/);
    const missing = await runCliInProcess(['batch', join(dir.path, 'none.txt'), '--config', config], { stateDir: join(dir.path, 'state') });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read .*none\.txt/);
  });
});
