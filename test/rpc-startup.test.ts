/**
 * `mai serve` listens before Mai is built: `initialize` is answered by the lifecycle routes while
 * Mai's modules load and its config is read; every other request waits for Mai. A config that
 * fails answers every request that needs Mai with its message until the client ends the session,
 * then the process exits 2 with the message on stderr (nothing on stdout but protocol). Replies made close together are written together: a pipelined flood is answered
 * completely, once per request, in well-formed frames, in both framings.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';
import { tempDir, writeConfig, type TempDir } from './support/harness.ts';
import { loopbackConfig, spawnServe, type Reply, type WireFraming } from './support/rpc-client.ts';

describe('mai serve starts listening before Mai is built', () => {
  let server: FakeOpenAIServer;
  let dir: TempDir;
  let config: string;
  let broken: string;
  beforeAll(async () => {
    server = await startOpenAIServer([{ id: 'alpha', reply: 'hi' }]);
    dir = await tempDir('mai-startup-');
    config = await writeConfig(dir.path, loopbackConfig(server.baseURL));
    broken = join(dir.path, 'broken.yaml');
    await writeFile(broken, 'scorers:\n  - use: vibes\n');
  });
  afterAll(async () => {
    await server.close();
    await dir.cleanup();
  });

  it('answers initialize, then requests that need Mai once it is built, and exits 0 after shutdown/exit', async () => {
    const mai = spawnServe({ config, framing: 'ndjson', stateDir: join(dir.path, 'state') });
    const init = await mai.request('initialize', { clientInfo: { name: 'startup-test' } });
    expect(init.result).toMatchObject({ serverInfo: { name: 'mai' } });
    const status = await mai.request('status');
    expect(status.error).toBeUndefined();
    expect(status.result).toMatchObject({ backends: [{ name: 'loop', reachable: true }] });
    const models = await mai.request('models/list');
    expect((models.result as { models: Array<{ id: string }> }).models.map((m) => m.id)).toEqual(['alpha']);
    expect((await mai.request('shutdown')).result).toBeNull();
    mai.send({ jsonrpc: '2.0', method: 'exit' });
    expect(await mai.exited).toBe(0);
    expect(mai.garbage).toEqual([]);
  });

  it('a broken config: every request that needs Mai is answered with its message (an editor sees why) until the client ends the session; then exit 2, the message on stderr', async () => {
    const mai = spawnServe({ config: broken, framing: 'content-length', stateDir: join(dir.path, 'state') });
    mai.send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} });
    mai.send({ jsonrpc: '2.0', id: 2, method: 'status' });
    // initialize needs no Mai; status waited for it, and its reply says what is wrong and where.
    const status = (await mai.waitFor((m) => !Array.isArray(m) && m.id === 2)) as Reply;
    expect(status.error).toMatchObject({ code: -32012, data: { code: 'plugin-unknown' } });
    expect(status.error?.message).toMatch(/unknown scorer plugin "vibes" \(broken\.yaml:2\)/);
    expect(mai.messages.find((m) => !Array.isArray(m) && m.id === 1)).toMatchObject({ result: { serverInfo: { name: 'mai' } } });
    // The server does not exit on its own (it would race its own reply): it answers the next request the same way.
    const models = await mai.request('models/list');
    expect(models.error).toMatchObject({ code: -32012, data: { code: 'plugin-unknown' } });
    expect((await mai.request('shutdown')).result).toBeNull();
    mai.send({ jsonrpc: '2.0', method: 'exit' });
    expect(await mai.exited).toBe(2);
    expect(mai.stderr()).toMatch(/unknown scorer plugin "vibes" \(broken\.yaml:2\)/);
    expect(mai.stderr()).not.toMatch(/\n\s+at /);
    expect(mai.garbage).toEqual([]);
  });

  it.each<WireFraming>(['ndjson', 'content-length'])('%s: 500 pipelined requests in one write are each answered once, in whole frames', async (framing) => {
    const mai = spawnServe({ config, framing, stateDir: join(dir.path, 'state') });
    const ids = Array.from({ length: 500 }, (_, i) => i + 1);
    const methods = ['status', 'conversations/list', 'no/such/method'];
    mai.writeRaw(
      ids
        .map((id) => JSON.stringify({ jsonrpc: '2.0', id, method: methods[id % methods.length] }))
        .map((text) => (framing === 'ndjson' ? `${text}\n` : `Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`))
        .join(''),
    );
    mai.end();
    expect(await mai.exited).toBe(0);
    expect(mai.garbage).toEqual([]);
    const replies = mai.messages as Reply[];
    expect(replies.map((r) => r.id).sort((a, b) => Number(a) - Number(b))).toEqual(ids);
    for (const reply of replies) {
      if (Number(reply.id) % methods.length === 2) expect(reply.error?.code).toBe(-32601);
      else expect(reply.error).toBeUndefined();
    }
  });
});
