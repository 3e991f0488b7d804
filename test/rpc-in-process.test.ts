/**
 * Client and server in one process over a linked in-memory stream pair (what the CLI does): the
 * typed protocol constants, streamed progress, cancellation, and serveStreams on raw NDJSON.
 */
import { PassThrough } from 'node:stream';
import { CancellationTokenSource, ResponseError } from 'vscode-jsonrpc/node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../core/log.ts';
import type { Mai } from '../core/mai.ts';
import { linkInProcess } from '../rpc/in-process.ts';
import {
  ConversationsGetRequest,
  InitializeRequest,
  ModelsListRequest,
  ModelsSwitchRequest,
  serveStreams,
  StatusRequest,
  type ChatProgress,
  type RpcErrorData,
} from '../rpc/index.ts';
import type { TextPort } from '../rpc/serve-streams.ts';
import { startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';
import { createTestMai, tempDir, type TempDir } from './support/harness.ts';
import { loopbackConfig } from './support/rpc-client.ts';

describe('in-process link', () => {
  let server: FakeOpenAIServer;
  let dir: TempDir;
  let mai: Mai;
  const log = createLogger('test', 'silent');
  beforeEach(async () => {
    server = await startOpenAIServer([
      { id: 'quick', reply: 'Quick reply here.', chunks: 3 },
      { id: 'slow', reply: 'x'.repeat(60), chunks: 30, chunkDelayMs: 50 },
    ]);
    dir = await tempDir('mai-inproc-');
    ({ mai } = await createTestMai(dir.path, loopbackConfig(server.baseURL, 'models:\n  - id: quick\n  - id: slow\n')));
  });
  afterEach(async () => {
    await mai.close();
    await server.close();
    await dir.cleanup();
  });

  it('answers typed requests, streams progress, and ends cleanly when the client closes', async () => {
    const link = linkInProcess(mai, log);
    const { client } = link;
    expect((await client.request(InitializeRequest, {})).capabilities.framings).toEqual(['content-length', 'ndjson']);
    const events: ChatProgress[] = [];
    const result = await client.chat({ message: 'Hi' }, { onProgress: (e) => events.push(e) });
    expect(result.text).toBe('Quick reply here.');
    expect(events.map((e) => (e.kind === 'delta' ? e.text : '')).join('')).toBe(result.text);
    const conversation = await client.request(ConversationsGetRequest, { id: result.conversationId });
    expect(conversation.messages.map((m) => m.role)).toEqual(['user', 'assistant']);
    expect((await client.request(ModelsListRequest, {})).models.map((m) => m.id)).toEqual(['quick', 'slow']);
    const error = await client.request(ModelsSwitchRequest, { model: 'nope' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResponseError);
    expect((error as ResponseError<RpcErrorData>).data).toMatchObject({ code: 'unknown-model', known: ['quick', 'slow'] });
    expect((await client.request(StatusRequest, {})).counters.turns).toBe(1);
    expect(await link.close()).toEqual({ reason: 'eof', code: 0 });
  });

  it('cancels a streaming turn and keeps serving', async () => {
    const link = linkInProcess(mai, log);
    const source = new CancellationTokenSource();
    let deltas = 0;
    const cancelled = await link.client
      .chat({ message: 'Slowly', model: 'slow' }, { token: source.token, onProgress: () => ++deltas === 3 && source.cancel() })
      .catch((e: unknown) => e);
    expect((cancelled as ResponseError).code).toBe(-32800);
    expect((await link.client.chat({ message: 'Now quick', model: 'quick' })).text).toBe('Quick reply here.');
    await link.close();
  });

  it('serveStreams: a client said gone (its one `gone` option) has its turn cancelled at the backend, and serving ends', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    output.resume();
    let leave: (why: string) => void = () => {};
    const gone = new Promise<string>((resolve) => (leave = resolve));
    const served = serveStreams({ input, output, mai, log, gone });
    input.write('{"jsonrpc":"2.0","id":1,"method":"chat/send","params":{"message":"a long one","model":"slow"}}\n');
    while (server.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    leave('the connection closed');
    expect(await served).toEqual({ reason: 'client-gone', code: 1 });
    while (!server.requests[0]?.clientClosed) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(server.requests[0]?.clientClosed).toBe(true); // the backend request was aborted, not left to run
    input.end();
  });

  it('serveStreams speaks NDJSON on a raw stream pair and answers everything before it returns', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    let written = '';
    output.on('data', (c: Buffer) => (written += c.toString('utf8')));
    const served = serveStreams({ input, output, mai, log });
    input.end(
      [
        '{"jsonrpc":"2.0","id":1,"method":"chat/send","params":{"message":"a"}}',
        '[{"jsonrpc":"2.0","id":2,"method":"status"},{"jsonrpc":"2.0","id":3,"method":"conversations/list"}]',
        'not json',
      ].join('\n'),
    );
    expect(await served).toEqual({ reason: 'eof', code: 0 });
    const lines = written.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown);
    expect(lines).toHaveLength(3);
    expect(lines).toContainEqual(expect.objectContaining({ id: 1, result: expect.objectContaining({ text: 'Quick reply here.' }) }));
    expect(lines).toContainEqual([expect.objectContaining({ id: 2 }), expect.objectContaining({ id: 3 })]);
    expect(lines).toContainEqual(expect.objectContaining({ id: null, error: expect.objectContaining({ code: -32700 }) }));
  });

  it('serveStreams: pipelined requests share writes; a lone reply goes out in a write of its own', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    const writes: string[] = [];
    output.on('data', (c: Buffer) => writes.push(c.toString('utf8')));
    const served = serveStreams({ input, output, mai, log });
    // One request alone: its reply is one write that holds it and nothing else.
    input.write('{"jsonrpc":"2.0","id":"alone","method":"status"}\n');
    while (writes.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(writes).toHaveLength(1);
    expect(JSON.parse(writes[0]!)).toMatchObject({ id: 'alone', result: expect.any(Object) });
    // 48 requests in one chunk: replies made while received ones wait to be dispatched are buffered
    // together (one write per at most 16 turns of the loop), not written one by one.
    writes.length = 0;
    input.end(Array.from({ length: 48 }, (_, i) => `{"jsonrpc":"2.0","id":${i},"method":"status"}\n`).join(''));
    expect(await served).toEqual({ reason: 'eof', code: 0 });
    const replies = writes.join('').trimEnd().split('\n').map((l) => JSON.parse(l) as { id: number });
    expect(replies.map((r) => r.id)).toEqual(Array.from({ length: 48 }, (_, i) => i));
    expect(writes.length).toBeLessThanOrEqual(8);
  });

  it('serveStreams over a TextPort (the in-process link: whole messages, no bytes) answers in order and holds the size limit in bytes', async () => {
    const small = await createTestMai(dir.path, loopbackConfig(server.baseURL, 'models:\n  - id: quick\nserver: { maxMessageBytes: 4096 }\n'));
    try {
      const sent: unknown[] = [];
      let toServer: (text: string) => void = () => {};
      let end: () => void = () => {};
      const port: TextPort = {
        listen: (message, ended) => {
          toServer = message;
          end = ended;
        },
        send: (text) => sent.push(JSON.parse(text)),
      };
      const served = serveStreams({ port, mai: small.mai, log });
      // 1,500 characters (4,500 bytes in UTF-8, some 4,570 with the envelope): over the limit in bytes though not in length.
      toServer(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'chat/send', params: { message: '€'.repeat(1500) } }));
      toServer('{"jsonrpc":"2.0","id":2,"method":"chat/send","params":{"message":"a"}}');
      toServer('not json');
      end();
      expect(await served).toEqual({ reason: 'eof', code: 0 });
      expect(sent).toHaveLength(3);
      expect(sent[0]).toMatchObject({ id: null, error: { code: -32700, message: expect.stringMatching(/is 45\d\d bytes, over the limit of 4096 bytes/) } });
      expect(sent).toContainEqual(expect.objectContaining({ id: 2, result: expect.objectContaining({ text: 'Quick reply here.' }) }));
      expect(sent).toContainEqual(expect.objectContaining({ id: null, error: expect.objectContaining({ code: -32700 }) }));
    } finally {
      await small.mai.close();
    }
  });
});
