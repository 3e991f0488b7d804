/**
 * The end of stdin with requests in flight: every request already received is answered before
 * `mai serve` exits (so `cat requests.ndjson | mai serve` prints every reply), in both framings,
 * and stdout carries nothing but the protocol.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';
import { tempDir, writeConfig, type TempDir } from './support/harness.ts';
import { binPath, loopbackConfig, maiEnv, spawnServe, type Reply } from './support/rpc-client.ts';

describe('end of input with requests in flight', () => {
  let server: FakeOpenAIServer;
  let dir: TempDir;
  let config: string;
  beforeEach(async () => {
    // Each answer takes ~0.5 s, far longer than it takes stdin to end. Mai runs one turn per model
    // at a time (core's model queue), so the turns name different models to run side by side.
    const reply = 'one two three four five';
    server = await startOpenAIServer(['m2', 'm3', 'm4', 'm5', 'm6', 'm7'].map((id) => ({ id, reply, chunks: 5, chunkDelayMs: 100 })));
    dir = await tempDir('mai-eof-');
    config = await writeConfig(dir.path, loopbackConfig(server.baseURL));
  });
  afterEach(async () => {
    await server.close();
    await dir.cleanup();
  });

  const requests = [
    { jsonrpc: '2.0', id: 1, method: 'initialize', params: {} },
    ...[2, 3, 4, 5, 6].map((id) => ({ jsonrpc: '2.0', id, method: 'chat/send', params: { message: `prompt ${id}`, model: `m${id}`, progressToken: `t${id}` } })),
    { jsonrpc: '2.0', method: 'initialized' },
    [
      { jsonrpc: '2.0', id: 7, method: 'chat/send', params: { message: 'batched', model: 'm7' } },
      { jsonrpc: '2.0', id: 8, method: 'status' },
    ],
    { jsonrpc: '2.0', id: 9, method: 'conversations/list' },
  ];

  it('`cat requests.ndjson | mai serve` prints every reply, then exits 0', async () => {
    const file = join(dir.path, 'requests.ndjson');
    await writeFile(file, `${requests.map((r) => JSON.stringify(r)).join('\n')}\n`);
    const { stdout, code } = await new Promise<{ stdout: string; code: number | null }>((resolve) => {
      // Under Deno, spawn() turns `deno file.js` into `deno run -A file.js` by itself; a shell line does not.
      const runtime = 'Deno' in globalThis ? `"${process.execPath}" run -A` : `"${process.execPath}"`;
      const child = spawn('sh', ['-c', `cat "${file}" | ${runtime} "${binPath}" serve --config "${config}"`], { env: maiEnv(join(dir.path, 'state')) });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
      child.stderr.resume();
      child.on('close', (exit) => resolve({ stdout: out, code: exit }));
    });
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    const messages = lines.map((l) => JSON.parse(l) as Reply | Reply[]); // every line is JSON: nothing else on stdout
    const replies = messages.filter((m): m is Reply => !Array.isArray(m) && m.method === undefined);
    expect(replies.map((r) => r.id).sort()).toEqual([1, 2, 3, 4, 5, 6, 9]);
    for (const r of replies.filter((r) => typeof r.id === 'number' && r.id >= 2 && r.id <= 6)) {
      expect(r.result).toMatchObject({ text: 'one two three four five', finishReason: 'stop' });
    }
    const batch = messages.find((m): m is Reply[] => Array.isArray(m));
    expect(batch?.map((r) => r.id)).toEqual([7, 8]);
    expect(batch?.[0]?.result).toMatchObject({ text: 'one two three four five' });
    // The progress of each streamed turn came too.
    expect(messages.filter((m) => !Array.isArray(m) && m.method === '$/progress')).toHaveLength(25);
    // The turns ran side by side after stdin had ended, not one after another.
    expect(server.concurrency.max).toBeGreaterThan(1);
  });

  it('Content-Length framing: stdin closed right after the requests, every reply still comes', async () => {
    const mai = spawnServe({ config, framing: 'content-length', stateDir: join(dir.path, 'state') });
    for (const r of requests) mai.send(r);
    mai.end();
    expect(await mai.exited).toBe(0);
    expect(mai.garbage).toEqual([]);
    const ids = mai.messages.flatMap((m) => (Array.isArray(m) ? m.map((r) => r.id) : m.method === undefined ? [m.id] : []));
    expect(ids.sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});
