/**
 * The lifecycle methods over the wire: invalid `initialize` and `shutdown` params are -32602
 * replies naming each problem (their zod schemas in rpc/mai-protocol.ts, like every other method's),
 * and `shutdown` then `exit` ends `mai serve` with code 0. The server stack is linked in this process
 * (test/support/rpc-link.ts: the same bytes, the code `mai serve` would exit with); the real process's
 * shutdown, exit and exit code are rpc-startup.test.ts's spawned cases.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';
import { tempDir, writeConfig, type TempDir } from './support/harness.ts';
import { loopbackConfig } from './support/rpc-client.ts';
import { linkServe } from './support/rpc-link.ts';

describe('mai serve: the lifecycle over the wire', () => {
  let server: FakeOpenAIServer;
  let dir: TempDir;
  let config: string;
  beforeAll(async () => {
    server = await startOpenAIServer([{ id: 'alpha', reply: 'hi' }]);
    dir = await tempDir('mai-lifecycle-');
    config = await writeConfig(dir.path, loopbackConfig(server.baseURL));
  });
  afterAll(async () => {
    await server.close();
    await dir.cleanup();
  });

  it('bad initialize and shutdown params are -32602 naming each problem; good ones are answered', async () => {
    const mai = linkServe({ config, framing: 'ndjson' });
    const bad = await mai.request('initialize', { clientInfo: { version: 2 }, capabilities: [] });
    expect(bad.error).toMatchObject({
      code: -32602,
      message:
        'Invalid params for initialize: clientInfo.name: Invalid input: expected string, received undefined; clientInfo.version: Invalid input: expected string, received number; capabilities: Invalid input: expected record, received array.',
      data: { code: 'invalid-params', retryable: false },
    });
    expect((await mai.request('initialize', { clientInfo: { name: 'lifecycle-test' }, processId: 1 })).result).toMatchObject({ serverInfo: { name: 'mai' } });
    expect((await mai.request('shutdown', { force: true })).error).toMatchObject({ code: -32602, message: 'Invalid params for shutdown: (params): Unrecognized key: "force".' });
    expect((await mai.request('status', { verbose: true })).error).toMatchObject({ code: -32602, message: 'Invalid params for status: (params): Unrecognized key: "verbose".' });
    expect((await mai.request('shutdown')).result).toBeNull();
    mai.send({ jsonrpc: '2.0', method: 'exit' });
    expect(await mai.exited).toBe(0);
    expect(mai.garbage).toEqual([]);
  });
});
