/**
 * Streaming and cancellation through the real `mai serve`: `$/progress` deltas before the reply,
 * `restart` when a fallback happens after text was streamed, and `$/cancelRequest` mid-stream
 * (raw NDJSON, and vscode-jsonrpc's own CancellationToken over Content-Length framing).
 */
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { CancellationTokenSource, ResponseError } from 'vscode-jsonrpc/node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openMai } from '../rpc/cli/common.ts';
import { MaiClient } from '../rpc/client.ts';
import { serveStreams } from '../rpc/serve-streams.ts';
import { ConversationsListRequest, InitializeRequest, type ChatProgress } from '../rpc/index.ts';
import { startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';
import { tempDir, writeConfig, type TempDir } from './support/harness.ts';
import { connectServe, loopbackConfig, type Reply, type WireFraming } from './support/rpc-client.ts';
import { linkServe, type LinkedServe } from './support/rpc-link.ts';

const until = async (check: () => boolean, what: string) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 25));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
};

describe('streaming and cancellation over the real process', () => {
  let server: FakeOpenAIServer;
  let dir: TempDir;
  let config: string;
  let mai: LinkedServe | undefined;
  beforeEach(async () => {
    server = await startOpenAIServer([
      { id: 'flaky', reply: 'This answer will be cut off part way.', chunks: 6, behaviour: { kind: 'ok' } },
      { id: 'steady', reply: 'A steady answer in five parts.', chunks: 5 },
      { id: 'slow', reply: 'word '.repeat(40), chunks: 40, chunkDelayMs: 100 },
    ]);
    dir = await tempDir('mai-stream-');
    config = await writeConfig(dir.path, loopbackConfig(server.baseURL, 'models:\n  - id: flaky\n  - id: steady\n  - id: slow\n'));
  });
  afterEach(async () => {
    await mai?.stop();
    mai = undefined;
    await server.close();
    await dir.cleanup();
  });

  it.each<WireFraming>(['ndjson', 'content-length'])('streams deltas as $/progress before the reply (%s)', async (framing) => {
    mai = linkServe({ config, framing });
    const reply = await mai.request('chat/send', { message: 'Stream it.', model: 'steady', progressToken: 'tok-1' });
    const result = reply.result as { text: string };
    expect(result.text).toBe('A steady answer in five parts.');
    const progress = mai.messages.filter((m): m is Reply => !Array.isArray(m) && m.method === '$/progress');
    expect(progress).toHaveLength(5);
    // Each delta names the model streaming it, so an editor can show who answers while it streams.
    for (const p of progress) expect(p.params).toMatchObject({ token: 'tok-1', value: { kind: 'delta', model: 'steady' } });
    expect(progress.map((p) => (p.params as { value: { text: string } }).value.text).join('')).toBe(result.text);
    // Every notification came before the reply.
    expect(mai.messages.indexOf(reply)).toBe(mai.messages.length - 1);
    // Without a token, nothing streams.
    const before = mai.messages.length;
    await mai.request('chat/send', { message: 'Quietly.', model: 'steady' });
    expect(mai.messages.length).toBe(before + 1);
  });

  it('writes each piece of the answer as it comes: the last one is not held back while the turn is stored and answered', async () => {
    // Every write to the output is kept as it was made.
    const writes: string[] = [];
    const output = new Writable({
      write(chunk: Buffer, _encoding, done) {
        writes.push(chunk.toString());
        done();
      },
    });
    const input = new PassThrough();
    const log = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {}, child: () => log };
    const built = openMai(config, log);
    const served = serveStreams({ input, output, mai: built, log });
    input.write(`${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'chat/send', params: { message: 'Stream it.', model: 'steady', progressToken: 'p' } })}\n`);
    await until(() => writes.some((w) => w.includes('"id":1')), 'the reply');
    input.end();
    await served;
    await (await built).close();
    const messages = writes.map((w) => w.trim().split('\n').map((line) => JSON.parse(line) as Reply));
    // Five pieces, five writes of one notification each, then the reply in a write of its own.
    expect(messages.map((m) => m.map((one) => one.method ?? `reply ${String(one.id)}`))).toEqual([
      ...Array.from({ length: 5 }, () => ['$/progress']),
      ['reply 1'],
    ]);
  });

  it('says restart when a fallback happens after text was streamed, and the text never mentions it', async () => {
    server.models.get('flaky')!.behaviour = { kind: 'cut', afterChunks: 2 };
    mai = linkServe({ config, framing: 'ndjson' });
    const reply = await mai.request('chat/send', { message: 'Go.', progressToken: 7 });
    const values = mai.messages
      .filter((m): m is Reply => !Array.isArray(m) && m.method === '$/progress')
      .map((m) => (m.params as { token: number; value: ChatProgress }).value);
    const restart = values.findIndex((v) => v.kind === 'restart');
    expect(restart).toBeGreaterThan(0); // text from flaky came first
    expect(values[restart]).toEqual({ kind: 'restart', model: 'steady' });
    expect(new Set(values.slice(0, restart).map((v) => v.model))).toEqual(new Set(['flaky']));
    expect(new Set(values.slice(restart + 1).map((v) => v.model))).toEqual(new Set(['steady']));
    const after = values.slice(restart + 1).map((v) => (v.kind === 'delta' ? v.text : '')).join('');
    expect(after).toBe('A steady answer in five parts.');
    expect(reply.result).toMatchObject({
      text: 'A steady answer in five parts.',
      model: 'steady',
      attempts: [{ model: 'flaky', error: { code: 'stream-cut' } }, { model: 'steady' }],
    });
  });

  it('$/cancelRequest mid-stream aborts the backend request, replies -32800 and stores nothing (ndjson)', async () => {
    mai = linkServe({ config, framing: 'ndjson' });
    const reply = mai.waitFor((m) => !Array.isArray(m) && m.id === 'chat-1' && m.method === undefined);
    mai.send({ jsonrpc: '2.0', id: 'chat-1', method: 'chat/send', params: { message: 'Take your time.', model: 'slow', progressToken: 'p' } });
    await mai.waitFor((m) => !Array.isArray(m) && m.method === '$/progress');
    mai.send({ jsonrpc: '2.0', method: '$/cancelRequest', params: { id: 'chat-1' } });
    const answered = (await reply) as Reply;
    expect(answered.error).toMatchObject({ code: -32800, data: { code: 'cancelled' } });
    await until(() => server.requests[0]?.clientClosed === true, 'the backend request to be aborted');
    expect((await mai.request('conversations/list')).result).toEqual({ conversations: [] });
    // The server is still there for the next turn.
    expect(((await mai.request('chat/send', { message: 'Again.', model: 'steady' })).result as { text: string }).text).toBe('A steady answer in five parts.');
  });

  it('exit with a turn in flight answers it -32800 (backend aborted) before the process ends', async () => {
    mai = linkServe({ config, framing: 'content-length' });
    mai.send({ jsonrpc: '2.0', id: 1, method: 'chat/send', params: { message: 'Take your time.', model: 'slow', progressToken: 'p' } });
    await mai.waitFor((m) => !Array.isArray(m) && m.method === '$/progress');
    expect((await mai.request('shutdown')).result).toBeNull();
    mai.send({ jsonrpc: '2.0', method: 'exit' });
    expect(await mai.exited).toBe(0);
    expect(mai.messages.find((m) => !Array.isArray(m) && m.id === 1)).toMatchObject({ error: { code: -32800 } });
    await until(() => server.requests[0]?.clientClosed === true, 'the backend request to be aborted');
    expect(mai.garbage).toEqual([]);
  });

  it('a vscode-jsonrpc CancellationToken cancels a streaming turn (Content-Length framing)', async () => {
    const { connection, child, exited } = connectServe({ config, stateDir: join(dir.path, 'state') });
    const client = new MaiClient(connection);
    try {
      expect((await client.request(InitializeRequest, { clientInfo: { name: 'vitest' } })).serverInfo.name).toBe('mai');
      const source = new CancellationTokenSource();
      const seen: ChatProgress[] = [];
      const turn = client.chat(
        { message: 'Take your time.', model: 'slow' },
        {
          token: source.token,
          onProgress: (event) => {
            seen.push(event);
            if (seen.length === 2) source.cancel();
          },
        },
      );
      const error = await turn.then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ResponseError);
      expect((error as ResponseError<{ code: string }>).code).toBe(-32800);
      expect(seen.length).toBeLessThan(40);
      await until(() => server.requests[0]?.clientClosed === true, 'the backend request to be aborted');
      expect(await client.request(ConversationsListRequest, {})).toEqual({ conversations: [] });
    } finally {
      connection.dispose();
      child.stdin.end();
      await exited;
    }
  });
});
