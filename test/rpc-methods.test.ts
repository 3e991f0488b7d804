/**
 * `mai serve`'s server stack linked in process (test/support/rpc-link.ts), in both framings: the
 * lifecycle and every method, against a real OpenAI-compatible SSE server on 127.0.0.1. The real
 * process's exit codes over real pipes are covered by rpc-startup.test.ts (0 after shutdown and exit, 2 for a
 * broken config, 0 at the end of input) and rpc-eof.test.ts.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';
import { tempDir, writeConfig, type TempDir } from './support/harness.ts';
import { loopbackConfig, type Reply, type WireFraming } from './support/rpc-client.ts';
import { linkServe, type LinkedServe } from './support/rpc-link.ts';

describe.each<WireFraming>(['ndjson', 'content-length'])('mai serve methods (%s framing)', (framing) => {
  let server: FakeOpenAIServer;
  let dir: TempDir;
  let config: string;
  let mai: LinkedServe;
  beforeEach(async () => {
    server = await startOpenAIServer([
      { id: 'alpha', reply: 'Alpha answers.' },
      { id: 'beta', reply: 'Beta answers.' },
    ]);
    dir = await tempDir('mai-rpc-');
    config = await writeConfig(dir.path, loopbackConfig(server.baseURL, 'reload: { allow: [./other.yaml, ./nope.yaml] }\n'));
    mai = linkServe({ config, framing });
  });
  afterEach(async () => {
    await mai.stop();
    await server.close();
    await dir.cleanup();
  });

  it('accepts requests before initialize, then initializes, shuts down and exits with 0', async () => {
    const early = await mai.request('status');
    expect(early.error).toBeUndefined();
    const init = await mai.request('initialize', { clientInfo: { name: 'test', version: '1' }, capabilities: {}, processId: 1, rootUri: null });
    expect(init.result).toMatchObject({ serverInfo: { name: 'mai', version: expect.any(String) }, capabilities: { progress: true, cancellation: true, batch: true } });
    expect((init.result as { capabilities: { methods: string[] } }).capabilities.methods).toContain('chat/send');
    mai.send({ jsonrpc: '2.0', method: 'initialized', params: {} }); // LSP clients send it; never answered
    expect((await mai.request('shutdown')).result).toBeNull();
    const after = await mai.request('status');
    expect(after.error).toMatchObject({ code: -32600 });
    expect(after.error?.message).toMatch(/shutting down/);
    mai.send({ jsonrpc: '2.0', method: 'exit' });
    expect(await mai.exited).toBe(0);
    expect(mai.garbage).toEqual([]);
    // One reply per request (status, initialize, shutdown, status): the `initialized` notification got none.
    expect(mai.messages).toHaveLength(4);
  });

  it('exits with 1 on exit without shutdown', async () => {
    mai.send({ jsonrpc: '2.0', method: 'exit' });
    expect(await mai.exited).toBe(1);
  });

  it('chat/send answers, stores the conversation, and conversations/list|get|delete see it', async () => {
    const chat = await mai.request('chat/send', { message: 'Hello?', system: 'Be brief.' });
    expect(chat.error).toBeUndefined();
    const result = chat.result as { conversationId: string; text: string; model: string; finishReason: string; usage: { promptTokens: number; completionTokens: number }; attempts: unknown[]; latencyMs: number };
    expect(result).toMatchObject({ text: 'Alpha answers.', model: 'alpha', finishReason: 'stop', attempts: [{ model: 'alpha' }] });
    expect(result.usage.completionTokens).toBeGreaterThan(0);
    expect(server.requests[0]?.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hello?' },
    ]);
    // A second turn in the same conversation sends the first one along.
    const second = await mai.request('chat/send', { message: 'Again?', conversationId: result.conversationId, model: 'beta' });
    expect(second.result).toMatchObject({ text: 'Beta answers.', model: 'beta', conversationId: result.conversationId });
    expect(server.requests[1]?.messages.map((m) => m.content)).toEqual(['Be brief.', 'Hello?', 'Alpha answers.', 'Again?']);

    const list = (await mai.request('conversations/list')).result as { conversations: Array<{ id: string; messages: number }> };
    expect(list.conversations.map((c) => c.id)).toEqual([result.conversationId]);
    const got = (await mai.request('conversations/get', { id: result.conversationId })).result as { messages: Array<{ role: string; text: string }> };
    expect(got.messages.map((m) => [m.role, m.text])).toEqual([
      ['system', 'Be brief.'],
      ['user', 'Hello?'],
      ['assistant', 'Alpha answers.'],
      ['user', 'Again?'],
      ['assistant', 'Beta answers.'],
    ]);
    expect((await mai.request('conversations/delete', { id: result.conversationId })).result).toEqual({ deleted: true });
    const missing = await mai.request('conversations/get', { id: result.conversationId });
    expect(missing.error).toMatchObject({ code: -32040, data: { code: 'conversation-not-found', conversationId: result.conversationId } });
  });

  it('models/list, models/switch (pin persisted, unknown id lists the known ones, auto unpins) and status', async () => {
    const models = (await mai.request('models/list')).result as { models: Array<{ id: string; backend: string; fits: boolean; contextLength: number; tier: string; capabilities: string[] }>; current: null; pinned: null };
    expect(models.models.map((m) => m.id).sort()).toEqual(['alpha', 'beta']);
    expect(models.models[0]).toMatchObject({ backend: 'loop', fits: true, capabilities: ['chat'] });
    expect((await mai.request('models/list', { availableOnly: true })).result).toMatchObject({ models: expect.any(Array) });

    const unknown = await mai.request('models/switch', { model: 'gamma' });
    expect(unknown.error).toMatchObject({ code: -32602, data: { code: 'unknown-model', model: 'gamma' } });
    expect((unknown.error?.data?.known as string[] | undefined)?.sort()).toEqual(['alpha', 'beta']);
    expect(unknown.error?.message).toMatch(/alpha/);

    expect((await mai.request('models/switch', { model: 'beta' })).result).toEqual({ pinned: 'beta' });
    const saved = JSON.parse(await readFile(join(dir.path, 'state', 'state.json'), 'utf8')) as { pinned: string };
    expect(saved.pinned).toBe('beta');
    const pinnedChat = (await mai.request('chat/send', { message: 'Who answers?' })).result as { model: string };
    expect(pinnedChat.model).toBe('beta');

    const status = (await mai.request('status')).result as { model: string; pinned: string; backends: Array<{ name: string; reachable: boolean }>; counters: { turns: number }; resources: { memTotalBytes: number | null }; uptimeMs: number };
    expect(status).toMatchObject({ model: 'beta', pinned: 'beta', backends: [{ name: 'loop', reachable: true }], counters: { turns: 1 } });
    expect(status.uptimeMs).toBeGreaterThanOrEqual(0);

    expect((await mai.request('models/switch', { model: 'auto' })).result).toEqual({ pinned: null });
    expect((await mai.request('models/switch', { model: null })).result).toEqual({ pinned: null });
    expect(((await mai.request('status')).result as { pinned: null }).pinned).toBeNull();
  });

  it('config/reload refuses a broken config and keeps the running one, then takes a good one', async () => {
    expect((await mai.request('status')).error).toBeUndefined(); // the server has read its config
    await writeFile(config, loopbackConfig(server.baseURL, 'reload: { allow: [./other.yaml, ./nope.yaml] }\n').replace('- use: context-fit', '- use: context-fit\n    weight: high'));
    const broken = await mai.request('config/reload');
    expect(broken.error).toMatchObject({ code: -32011, data: { code: 'config-invalid' } });
    expect(broken.error?.message).toMatch(/mai\.config\.yaml/);
    // The old config still answers.
    expect(((await mai.request('chat/send', { message: 'still there?' })).result as Reply & { text: string }).text).toBe('Alpha answers.');

    const other = await writeConfig(dir.path, loopbackConfig(server.baseURL, 'models:\n  - id: beta\n    priority: 5\nreload: { allow: [./nope.yaml] }\n'), 'other.yaml');
    const good = await mai.request('config/reload', { config: other });
    expect(good.result).toEqual({ file: other });
    expect(((await mai.request('status')).result as { config: { file: string } }).config.file).toBe(other);
    const missing = await mai.request('config/reload', { config: join(dir.path, 'nope.yaml') });
    expect(missing.error).toMatchObject({ code: -32010, data: { code: 'config-not-found' } });
  });

  it('chat/send takes the capabilities a turn needs (one schema with Mai.chat), and names the allowed ones', async () => {
    const ok = await mai.request('chat/send', { message: 'Code, please.', capabilities: ['chat', 'code'] });
    expect(ok.error).toBeUndefined();
    expect(ok.result).toMatchObject({ model: expect.any(String), text: expect.any(String) });
    const bad = await mai.request('chat/send', { message: 'Teleport me.', capabilities: ['teleport'] });
    expect(bad.error).toMatchObject({ code: -32602, data: { code: 'invalid-params' } });
    expect(bad.error?.message).toMatch(/capabilities/);
    expect(bad.error?.message).toMatch(/vision/);
  });

  it('answers invalid params and unknown methods with an error, not a dead process', async () => {
    const typo = await mai.request('chat/send', { mesage: 'hi' });
    expect(typo.error).toMatchObject({ code: -32602, data: { code: 'invalid-params' } });
    expect(typo.error?.message).toMatch(/message/);
    expect(typo.error?.message).toMatch(/mesage/);
    const positional = await mai.request('chat/send', ['hi']);
    expect(positional.error).toMatchObject({ code: -32602 });
    const nope = await mai.request('models/delete', { id: 'x' });
    expect(nope.error).toMatchObject({ code: -32601, data: { method: 'models/delete' } });
    expect((await mai.request('status')).error).toBeUndefined();
  });
});
