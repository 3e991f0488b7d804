/**
 * `mai serve --mcp` on the wire, byte for byte: a real process fed newline-delimited JSON-RPC the
 * way MCP clients write it, its stdout read line by line with a parser of this file's own (so
 * anything on stdout that is not one JSON message a line shows up as garbage). Covers what the SDK
 * client hides: version negotiation, notifications never answered, the exact progress
 * notifications (string tokens, a restart after a fallback), notifications/cancelled leaving the
 * request unanswered, and a piped session answered in full before the process exits. The first
 * three cases share one process (a client's session, in order; each reads what came since it
 * began); the piped session ends its process, so it has one of its own.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, writeConfig, type TempDir } from './support/harness.ts';
import { startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';
import { binPath, loopbackConfig, maiEnv, repoRoot } from './support/rpc-client.ts';

interface Message {
  jsonrpc: string;
  id?: string | number | null;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { code: number; message: string; data?: Record<string, unknown> };
}

const until = async (check: () => boolean, what: string) => {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 25));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
};

function spawnMcp(config: string, stateDir: string) {
  const child = spawn(process.execPath, [binPath, 'serve', '--mcp', '--config', config], { env: maiEnv(stateDir), cwd: repoRoot });
  const messages: Message[] = [];
  const garbage: string[] = [];
  let pending = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    pending += chunk;
    for (let newline = pending.indexOf('\n'); newline !== -1; newline = pending.indexOf('\n')) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      try {
        messages.push(JSON.parse(line) as Message);
      } catch {
        garbage.push(line);
      }
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  child.stdin.on('error', () => {});
  const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
  const send = (message: object) => child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', ...message })}\n`);
  const reply = async (id: string | number) => {
    await until(() => messages.some((m) => m.id === id && m.method === undefined), `the reply to ${JSON.stringify(id)}; stderr: ${stderr}`);
    return messages.find((m) => m.id === id && m.method === undefined)!;
  };
  const request = (id: string | number, method: string, params?: object) => {
    send({ id, method, ...(params ? { params } : {}) });
    return reply(id);
  };
  return { child, messages, garbage, stderr: () => stderr, send, reply, request, exited, pendingText: () => pending };
}

describe('mai serve --mcp on the wire', () => {
  let server: FakeOpenAIServer;
  let dir: TempDir;
  let config: string;
  let mcp: ReturnType<typeof spawnMcp> | undefined;
  let piped: ReturnType<typeof spawnMcp> | undefined;
  beforeAll(async () => {
    server = await startOpenAIServer([
      { id: 'flaky', reply: 'This answer will be cut off part way.', chunks: 6 },
      { id: 'steady', reply: 'A steady answer in five parts.', chunks: 5 },
      { id: 'slow', reply: 'word '.repeat(40), chunks: 40, chunkDelayMs: 100 },
    ]);
    dir = await tempDir('mai-mcp-wire-');
    config = await writeConfig(dir.path, loopbackConfig(server.baseURL, 'models:\n  - id: flaky\n  - id: steady\n  - id: slow\n'));
    mcp = spawnMcp(config, join(dir.path, 'state'));
  });
  const shared = () => mcp!;
  afterEach(() => {
    for (const model of server.models.values()) delete model.behaviour;
  });
  afterAll(async () => {
    for (const p of [mcp, piped]) {
      p?.child.kill();
      await p?.exited;
    }
    await server.close();
    await dir.cleanup();
  });

  it('negotiates the protocol version, answers ping, never answers a notification, and refuses what it does not speak', async () => {
    const mcp = shared();
    const start = mcp.messages.length;
    const init = (id: number, protocolVersion: unknown) =>
      mcp.request(id, 'initialize', { protocolVersion, capabilities: {}, clientInfo: { name: 'wire', version: '0' } });
    expect((await init(1, '2024-11-05')).result).toMatchObject({ protocolVersion: '2024-11-05', capabilities: { tools: {} }, serverInfo: { name: 'mai' } });
    expect((await init(2, '2025-03-26')).result?.protocolVersion).toBe('2025-03-26');
    expect((await init(3, '2025-06-18')).result?.protocolVersion).toBe('2025-06-18');
    // A version Mai does not speak (newer, or nonsense): Mai answers its newest, the client decides.
    expect((await init(4, '2025-11-25')).result?.protocolVersion).toBe('2025-06-18');
    expect((await init(5, 'next-year')).result?.protocolVersion).toBe('2025-06-18');
    const missing = await mcp.request(6, 'initialize', { capabilities: {} });
    expect(missing.error).toMatchObject({ code: -32602 });
    expect(missing.error!.message).toContain('protocolVersion');

    mcp.send({ method: 'notifications/initialized' });
    mcp.send({ method: 'notifications/cancelled', params: { requestId: 'nothing-in-flight', reason: 'late' } });
    mcp.send({ method: 'notifications/roots/list_changed' });
    expect((await mcp.request('p', 'ping')).result).toEqual({});
    expect((await mcp.request('r', 'resources/list')).error).toMatchObject({ code: -32601 });
    const count = mcp.messages.length;
    expect((await mcp.request('p2', 'ping', { _meta: { progressToken: 1 } })).result).toEqual({});
    // Nothing but the replies came: the three notifications got none.
    expect(mcp.messages.length).toBe(count + 1);
    expect(mcp.messages.slice(start).every((m) => m.id !== undefined && m.method === undefined)).toBe(true);
    expect(mcp.garbage).toEqual([]);
  });

  it('streams notifications/progress for a string token before the result, and says restart when a fallback follows streamed text', async () => {
    const mcp = shared();
    const start = mcp.messages.length;
    const result = await mcp.request('call-1', 'tools/call', { name: 'chat', arguments: { message: 'Stream it.', model: 'steady' }, _meta: { progressToken: 'tok' } });
    const progress = mcp.messages.slice(start).filter((m) => m.method === 'notifications/progress');
    // Exactly MCP's fields: the client's token, a growing progress, the delta as message (no total: unknown).
    expect(progress.map((p) => ({ ...p.params, message: typeof p.params!.message }))).toEqual(
      progress.map((_, i) => ({ progressToken: 'tok', progress: i + 1, message: 'string' })),
    );
    expect(progress).toHaveLength(5);
    expect(progress.map((p) => p.params!.message).join('')).toBe('A steady answer in five parts.');
    expect(mcp.messages.indexOf(result)).toBe(mcp.messages.length - 1);
    expect(result.result).toMatchObject({ content: [{ type: 'text', text: 'A steady answer in five parts.' }], structuredContent: { model: 'steady' } });

    server.models.get('flaky')!.behaviour = { kind: 'cut', afterChunks: 2 };
    const before = mcp.messages.length;
    const fallback = await mcp.request(7, 'tools/call', { name: 'chat', arguments: { message: 'Go.', model: 'flaky' }, _meta: { progressToken: 7 } });
    const events = mcp.messages.slice(before).filter((m) => m.method === 'notifications/progress').map((m) => m.params!);
    const restart = events.findIndex((e) => e._meta !== undefined);
    expect(restart).toBeGreaterThan(0); // flaky's text came first
    expect(events[restart]).toMatchObject({ progressToken: 7, _meta: { 'mai/restart': { model: 'steady' } } });
    expect(events[restart]!.message).toContain('steady answers instead');
    expect(events.map((e) => e.progress)).toEqual(events.map((_, i) => i + 1));
    expect(events.slice(restart + 1).map((e) => e.message).join('')).toBe('A steady answer in five parts.');
    expect(fallback.result).toMatchObject({
      content: [{ type: 'text', text: 'A steady answer in five parts.' }],
      structuredContent: { model: 'steady', attempts: [{ model: 'flaky', error: { code: 'stream-cut' } }, { model: 'steady' }] },
    });
    // Without a progress token nothing streams.
    const quiet = mcp.messages.length;
    await mcp.request(8, 'tools/call', { name: 'chat', arguments: { message: 'Quietly.', model: 'steady' } });
    expect(mcp.messages.length).toBe(quiet + 1);
  });

  it('notifications/cancelled aborts the turn at the backend and the request is never answered', async () => {
    const mcp = shared();
    const start = mcp.messages.length;
    const asked = server.requests.length;
    mcp.send({ id: 'long', method: 'tools/call', params: { name: 'chat', arguments: { message: 'Take your time.', model: 'slow' }, _meta: { progressToken: 'p' } } });
    await until(() => mcp.messages.slice(start).some((m) => m.method === 'notifications/progress'), 'the first delta');
    mcp.send({ method: 'notifications/cancelled', params: { requestId: 'long', reason: 'the user pressed stop' } });
    await until(() => server.requests[asked]?.clientClosed === true, 'the backend request to be aborted');
    expect(server.requests[asked]?.model).toBe('slow');
    // Two round trips after the abort: a reply to "long" would have been written by now.
    expect((await mcp.request('after-1', 'ping')).result).toEqual({});
    const next = await mcp.request('after-2', 'tools/call', { name: 'chat', arguments: { message: 'Again.', model: 'steady' } });
    expect(next.result).toMatchObject({ content: [{ type: 'text', text: 'A steady answer in five parts.' }] });
    expect(mcp.messages.filter((m) => m.id === 'long')).toEqual([]);
    const streamed = mcp.messages.filter((m) => m.method === 'notifications/progress' && m.params!.progressToken === 'p');
    expect(streamed.length).toBeLessThan(40);
  });

  it('a piped session is answered in full before the process exits; stdout holds only protocol lines', async () => {
    const mcp = (piped = spawnMcp(config, join(dir.path, 'state-piped')));
    const lines = [
      { id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'sh' } } },
      { method: 'notifications/initialized' },
      { id: 2, method: 'tools/list' },
      { id: 3, method: 'tools/call', params: { name: 'chat', arguments: { message: 'Piped.', model: 'steady' } } },
      { id: 4, method: 'tools/call', params: { name: 'status', arguments: {} } },
    ];
    mcp.child.stdin.end(lines.map((l) => `${JSON.stringify({ jsonrpc: '2.0', ...l })}\n`).join(''));
    expect(await mcp.exited).toBe(0);
    expect(mcp.garbage).toEqual([]);
    expect(mcp.pendingText()).toBe('');
    // Requests run side by side (status need not wait for the chat), so replies come in any order.
    expect(mcp.messages.map((m) => m.id).sort()).toEqual([1, 2, 3, 4]);
    const byId = (id: number) => mcp.messages.find((m) => m.id === id)!;
    expect((byId(2).result!.tools as Array<{ name: string }>).map((t) => t.name)).toEqual(['chat', 'models', 'status']);
    expect(byId(3).result).toMatchObject({ content: [{ type: 'text', text: 'A steady answer in five parts.' }] });
    expect(byId(4).result).toMatchObject({ structuredContent: { backends: [{ name: 'loop', reachable: true }] } });
  });
});
