/**
 * JSON-RPC 2.0 conformance of `mai serve`'s server stack (linked in process, test/support/rpc-link.ts), in both framings: every malformed input class
 * gets the answer the spec requires (vscode-jsonrpc alone answers none of them), batches are
 * answered with one array, notifications never, and the server keeps serving afterwards.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';
import { tempDir, writeConfig, type TempDir } from './support/harness.ts';
import { loopbackConfig, type Reply, type WireFraming } from './support/rpc-client.ts';
import { linkServe, type LinkedServe } from './support/rpc-link.ts';

describe.each<WireFraming>(['ndjson', 'content-length'])('conformance (%s framing)', (framing) => {
  let server: FakeOpenAIServer;
  let dir: TempDir;
  let mai: LinkedServe;
  beforeEach(async () => {
    server = await startOpenAIServer([{ id: 'alpha', reply: 'Alpha answers.', chunks: 3, chunkDelayMs: 20 }]);
    dir = await tempDir('mai-conf-');
    const config = await writeConfig(dir.path, loopbackConfig(server.baseURL));
    mai = linkServe({ config, framing });
  });
  afterEach(async () => {
    await mai.stop();
    await server.close();
    await dir.cleanup();
  });

  /** Sends one raw frame and returns the next message the server writes. */
  const answerTo = async (text: string): Promise<Reply | Reply[]> => {
    const count = mai.messages.length;
    const next = mai.waitFor(() => mai.messages.length > count);
    mai.send(text);
    return next;
  };

  it('answers each malformed single message as JSON-RPC 2.0 requires', async () => {
    const cases: Array<[string, number, string | number | null]> = [
      ['{"jsonrpc": "2.0", "method": "status", "params": [1, 2', -32700, null], // not JSON
      ['[]', -32600, null], // empty batch: one error, not an array
      ['{"jsonrpc": "2.0", "id": null, "method": "status"}', -32600, null],
      ['{"jsonrpc": "2.0", "id": 4, "method": 42}', -32600, 4], // non-string method
      ['{"jsonrpc": "2.0", "method": 42}', -32600, null], // …even without an id
      ['{"jsonrpc": "1.0", "id": 5, "method": "status"}', -32600, 5],
      ['{"id": 6, "method": "status"}', -32600, 6], // no "jsonrpc"
      ['{"jsonrpc": "2.0", "id": {"a": 1}, "method": "status"}', -32600, null],
      ['{"jsonrpc": "2.0", "id": 7, "method": "status", "params": "x"}', -32600, 7],
      ['{"jsonrpc": "2.0", "id": 8}', -32600, 8], // no method
      ['"just a string"', -32600, null],
      ['42', -32600, null],
      ['{"jsonrpc": "2.0", "id": 9, "method": "no/such"}', -32601, 9],
    ];
    for (const [text, code, id] of cases) {
      const reply = await answerTo(text);
      expect(Array.isArray(reply), text).toBe(false);
      expect(reply, text).toMatchObject({ jsonrpc: '2.0', id, error: { code, message: expect.any(String) } });
      expect((reply as Reply).error?.message.length, text).toBeGreaterThan(10);
    }
    // Still serving, and nothing but framed JSON was written.
    expect((await mai.request('status')).error).toBeUndefined();
    expect(mai.garbage).toEqual([]);
  });

  it('answers a batch with one array: requests answered, invalid members errors, notifications not at all', async () => {
    const reply = await answerTo(
      JSON.stringify([
        { jsonrpc: '2.0', id: 'a', method: 'status' },
        { jsonrpc: '2.0', method: 'initialized', params: {} },
        1,
        { jsonrpc: '2.0', id: 'b', method: 'chat/send', params: { message: 'In a batch.' } },
        { jsonrpc: '2.0', id: 'c', method: 'nope' },
        { jsonrpc: '2.0', id: null, method: 'status' },
      ]),
    );
    expect(Array.isArray(reply)).toBe(true);
    const replies = reply as Reply[];
    expect(replies).toHaveLength(5);
    const byId = (id: string) => replies.find((r) => r.id === id);
    expect(byId('a')?.result).toMatchObject({ counters: expect.any(Object) });
    expect(byId('b')?.result).toMatchObject({ text: 'Alpha answers.' });
    expect(byId('c')?.error?.code).toBe(-32601);
    expect(replies.filter((r) => r.id === null).map((r) => r.error?.code)).toEqual([-32600, -32600]);
  });

  it('answers nothing to a batch of notifications, and nothing to a lone notification', async () => {
    mai.send(JSON.stringify([{ jsonrpc: '2.0', method: 'initialized' }, { jsonrpc: '2.0', method: 'no/such/notification', params: {} }]));
    mai.send({ jsonrpc: '2.0', method: '$/cancelRequest', params: { id: 'never-sent' } });
    mai.send({ jsonrpc: '2.0', method: 'status' }); // a request method sent as a notification: run, never answered
    const reply = await mai.request('status');
    expect(mai.messages).toEqual([reply]);
  });

  it('keeps requests with the same id apart (each reply carries the id it was sent with)', async () => {
    const replies = mai.waitFor(() => mai.messages.length >= 3);
    mai.send({ jsonrpc: '2.0', id: 1, method: 'chat/send', params: { message: 'first' } });
    mai.send({ jsonrpc: '2.0', id: 1, method: 'status' });
    mai.send({ jsonrpc: '2.0', id: '1', method: 'conversations/list' });
    await replies;
    const results = mai.messages as Reply[];
    expect(results.filter((r) => r.id === 1)).toHaveLength(2);
    expect(results.filter((r) => r.id === '1')).toHaveLength(1);
    expect(results.every((r) => r.error === undefined)).toBe(true);
  });
});

describe('framing errors', () => {
  it('a Content-Length header block without a length is a parse error, and the stream goes on', async () => {
    const dir = await tempDir('mai-frame-');
    const server = await startOpenAIServer([{ id: 'alpha' }]);
    const config = await writeConfig(dir.path, loopbackConfig(server.baseURL));
    const mai = linkServe({ config, framing: 'content-length' });
    try {
      const bad = mai.waitFor(() => mai.messages.length > 0);
      mai.writeRaw('Content-Type: application/json\r\n\r\n');
      expect(await bad).toMatchObject({ id: null, error: { code: -32700 } });
      expect((await mai.request('status')).error).toBeUndefined();
      // A body cut off by the end of input is reported too, after the earlier replies.
      mai.writeRaw('Content-Length: 100\r\n\r\n{"jsonrpc"');
      mai.end();
      expect(await mai.exited).toBe(0);
      expect(mai.messages.at(-1)).toMatchObject({ id: null, error: { code: -32700 } });
      expect(mai.garbage).toEqual([]);
    } finally {
      await mai.stop();
      await server.close();
      await dir.cleanup();
    }
  });
});
