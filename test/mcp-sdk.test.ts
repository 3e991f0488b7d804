/**
 * `mai serve --mcp` as an agent meets it: the official MCP TypeScript SDK client (`Client` +
 * `StdioClientTransport`) spawns the real `node dist/bundle/mai.js serve --mcp` and drives it through
 * list → call → streamed call → cancelled call, with a real OpenAI-compatible server on 127.0.0.1
 * behind Mai and the state (conversations) in a temporary folder. One session (one process, as an
 * agent keeps it) runs the cases in order: each puts the models' behaviour back, and counts turns
 * from where the session was when it began.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ErrorCode, McpError, type CallToolResult, type JSONRPCMessage, type Progress } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ChatToolInput, ChatToolOutput } from '../rpc/mcp/index.ts';
import { tempDir, writeConfig, type TempDir } from './support/harness.ts';
import { startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';
import { binPath, loopbackConfig, repoRoot } from './support/rpc-client.ts';

const until = async (check: () => boolean | Promise<boolean>, what: string) => {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
};

/** The SDK's stdio transport, remembering the protocol version the client settled on with Mai. */
class RecordingTransport extends StdioClientTransport {
  negotiated: string | undefined;
  setProtocolVersion(version: string): void {
    this.negotiated = version;
  }
}

interface ChatStructured {
  text: string;
  model: string;
  conversationId: string;
  finishReason: string;
  usage: { promptTokens: number; completionTokens: number };
  attempts: Array<{ model: string; error?: { code: string; message: string } }>;
  latencyMs: number;
}

const textOf = (result: CallToolResult) => result.content.map((c) => (c.type === 'text' ? c.text : '')).join('');

describe('mai serve --mcp driven by the official MCP SDK client', () => {
  let server: FakeOpenAIServer;
  let dir: TempDir;
  let stateDir: string;
  let client: Client;
  let transport: RecordingTransport;
  let clientErrors: Error[];
  let stderr: string;
  const received: JSONRPCMessage[] = [];

  beforeAll(async () => {
    server = await startOpenAIServer([
      { id: 'flaky', reply: 'Flaky would have said this.', chunks: 3 },
      { id: 'steady', reply: 'A steady answer in five parts.', chunks: 5 },
      { id: 'slow', reply: 'word '.repeat(40), chunks: 40, chunkDelayMs: 100 },
    ]);
    dir = await tempDir('mai-mcp-');
    stateDir = join(dir.path, 'state');
    const config = await writeConfig(dir.path, loopbackConfig(server.baseURL, 'models:\n  - id: flaky\n  - id: steady\n  - id: slow\n'));
    transport = new RecordingTransport({
      command: process.execPath,
      args: [binPath, 'serve', '--mcp', '--config', config],
      // In process: a host would outlive the test's temporary config. The SDK passes only these and a few of its own
      // (HOME, PATH…): the run's code cache folder too (test/support/global-setup.ts), not the user's ~/.cache.
      env: { MAI_STATE_DIR: stateDir, MAI_LOG: 'warn', MAI_STANDALONE: '1', ...(process.env['XDG_CACHE_HOME'] ? { XDG_CACHE_HOME: process.env['XDG_CACHE_HOME'] } : {}) },
      cwd: repoRoot,
      stderr: 'pipe',
    });
    stderr = '';
    transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    client = new Client({ name: 'vitest-agent', version: '1.0.0' });
    clientErrors = [];
    client.onerror = (error) => clientErrors.push(error);
    await client.connect(transport);
    // Every message as it came off the wire, before the SDK dispatches it.
    const deliver = transport.onmessage!;
    transport.onmessage = (message: JSONRPCMessage) => {
      received.push(message);
      deliver(message);
    };
  });

  afterEach(() => {
    for (const model of server.models.values()) delete model.behaviour;
  });

  afterAll(async () => {
    await client.close();
    await server.close();
    await dir.cleanup();
  });

  /** Turns Mai counted so far in this session. */
  const turns = async () => ((await client.callTool({ name: 'status' })) as CallToolResult & { structuredContent: { counters: { turns: number } } }).structuredContent.counters.turns;

  /** Every stored conversation file's text (the state folder is the temp dir's). */
  const storedText = async (): Promise<string> => {
    const folder = join(stateDir, 'conversations');
    const files = await readdir(folder).catch(() => [] as string[]);
    // A failed turn's reserved (empty) file is removed behind its reply: one listed may be gone when read.
    const read = (f: string) => readFile(join(folder, f), 'utf8').catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? '' : Promise.reject(error)));
    const texts = await Promise.all(files.filter((f) => f.endsWith('.jsonl')).map(read));
    return texts.join('\n');
  };

  it('initializes with a version both speak, then lists chat, models and status with JSON Schemas derived from zod', async () => {
    // The SDK asks for its newest version (2025-11-25); Mai answers the newest it speaks, which the SDK accepts.
    expect(transport.negotiated).toBe('2025-06-18');
    expect(client.getServerVersion()).toMatchObject({ name: 'mai', title: 'Mai' });
    expect(client.getServerCapabilities()).toEqual({ tools: { listChanged: false } });
    expect(client.getInstructions()).toContain('chat tool');
    await client.ping();

    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(['chat', 'models', 'status']);
    const chat = tools.find((t) => t.name === 'chat')!;
    // One source of truth: what tools/list shows is exactly the zod schemas' JSON Schema.
    expect(chat.inputSchema).toEqual(z.toJSONSchema(ChatToolInput, { target: 'draft-7', io: 'input' }));
    expect(chat.outputSchema).toEqual(z.toJSONSchema(ChatToolOutput, { target: 'draft-7', io: 'output' }));
    expect(chat.inputSchema.required).toEqual(['message']);
    expect(Object.keys(chat.inputSchema.properties ?? {})).toEqual(['message', 'conversationId', 'model', 'maxTokens']);
    expect(chat.outputSchema?.required).toEqual(expect.arrayContaining(['model', 'usage', 'attempts', 'conversationId']));
    for (const tool of tools) {
      expect(tool.description?.length).toBeGreaterThan(40);
      expect(tool.inputSchema.type).toBe('object');
    }
    expect(tools.find((t) => t.name === 'models')!.annotations).toMatchObject({ readOnlyHint: true });
  });

  it('answers a chat call with the text as content and model, usage, attempts and conversationId as structured content; the conversation continues', async () => {
    const before = await turns();
    await client.listTools(); // the SDK validates structuredContent against the outputSchema it listed
    const first = (await client.callTool({ name: 'chat', arguments: { message: 'Name a colour.', model: 'steady' } })) as CallToolResult;
    expect(first.isError).toBeFalsy();
    expect(first.content).toEqual([{ type: 'text', text: 'A steady answer in five parts.' }]);
    const structured = first.structuredContent as unknown as ChatStructured;
    expect(structured).toMatchObject({ text: 'A steady answer in five parts.', model: 'steady', finishReason: 'stop', attempts: [{ model: 'steady' }] });
    expect(structured.usage.completionTokens).toBe(5);
    expect(structured.usage.promptTokens).toBeGreaterThan(0);
    expect(structured.conversationId).toMatch(/\S/);
    expect(server.requests.at(-1)!.messages.at(-1)).toEqual({ role: 'user', content: 'Name a colour.' });

    // Mai's context: the next turn of the same conversation carries the first one to the model.
    const second = (await client.callTool({ name: 'chat', arguments: { message: 'And another?', conversationId: structured.conversationId, model: 'steady', maxTokens: 64 } })) as CallToolResult;
    expect((second.structuredContent as unknown as ChatStructured).conversationId).toBe(structured.conversationId);
    const sent = server.requests.at(-1)!;
    expect(sent.maxTokens).toBe(64);
    expect(sent.messages.slice(-3)).toEqual([
      { role: 'user', content: 'Name a colour.' },
      { role: 'assistant', content: 'A steady answer in five parts.' },
      { role: 'user', content: 'And another?' },
    ]);
    expect(await storedText()).toContain('And another?');

    // models and status answer with their reports, as structured content and as JSON text.
    const models = (await client.callTool({ name: 'models', arguments: {} })) as CallToolResult;
    const report = models.structuredContent as { models: Array<{ id: string }>; current: string | null };
    expect(report.models.map((m) => m.id).sort()).toEqual(['flaky', 'slow', 'steady']);
    expect(report.current).toBe('steady');
    expect(JSON.parse(textOf(models))).toEqual(report);
    const status = (await client.callTool({ name: 'status' })) as CallToolResult;
    expect(status.structuredContent).toMatchObject({ model: 'steady', backends: [{ name: 'loop', reachable: true }], counters: { turns: before + 2 } });
  });

  it('falls back when the asked-for model fails, and says so in attempts', async () => {
    server.models.get('flaky')!.behaviour = { kind: 'status', status: 500 };
    const result = (await client.callTool({ name: 'chat', arguments: { message: 'Try flaky first.', model: 'flaky' } })) as CallToolResult;
    expect(result.isError).toBeFalsy();
    const structured = result.structuredContent as unknown as ChatStructured;
    expect(structured.attempts[0]).toMatchObject({ model: 'flaky', error: { code: 'server-error' } });
    expect(structured.attempts.at(-1)).toEqual({ model: structured.model });
    expect(structured.model).not.toBe('flaky');
    expect(textOf(result)).toBe(server.models.get(structured.model)!.reply);
  });

  // What Mai sent is read off the wire: the SDK hands a notification to its handler a microtask
  // later than a response it read in the same chunk, and drops a progress notification whose
  // request was answered meanwhile ("unknown token"). A warm Mai writes the last deltas and the
  // result together, so the SDK's own count is a prefix of what came, in order.
  it('streams the answer as progress notifications whose messages are the text deltas', async () => {
    const updates: Progress[] = [];
    const from = received.length;
    const result = (await client.callTool({ name: 'chat', arguments: { message: 'Stream it.', model: 'steady' } }, undefined, {
      onprogress: (progress) => updates.push(progress),
    })) as CallToolResult;
    const came = received.slice(from);
    const isProgress = (m: JSONRPCMessage) => 'method' in m && m.method === 'notifications/progress';
    const progress = came.filter(isProgress).map((m) => (m as unknown as { params: Progress & { progressToken: unknown } }).params);
    expect(progress).toHaveLength(5);
    expect(progress.map((p) => p.progress)).toEqual([1, 2, 3, 4, 5]);
    expect(new Set(progress.map((p) => p.progressToken)).size).toBe(1);
    expect(progress.map((p) => p.message).join('')).toBe(textOf(result));
    expect(textOf(result)).toBe('A steady answer in five parts.');
    // Every notification before the result.
    expect(came.findLastIndex(isProgress)).toBeLessThan(came.findIndex((m) => 'result' in m));
    // The SDK passed on what it passed in order. How many it passes is its own timing: its Protocol runs a
    // notification's handler a microtask later but a response's at once, and the response drops the call's
    // progress handler, so when the last notifications and the result come in one read (a loaded machine) it
    // passes fewer, or none. The wire above is what Mai sent.
    expect(updates).toEqual(progress.slice(0, updates.length).map(({ progress: n, message }) => ({ progress: n, message })));
    expect(clientErrors.filter((e) => !/progress notification for an unknown token/.test(e.message))).toEqual([]);
  });

  it('an aborted call sends notifications/cancelled: the backend request is aborted, nothing is stored, no reply comes', async () => {
    const before = await turns();
    const controller = new AbortController();
    const seen: string[] = [];
    const call = client.callTool({ name: 'chat', arguments: { message: 'Take your time, zebra-7.', model: 'slow' } }, undefined, {
      signal: controller.signal,
      onprogress: (progress) => {
        seen.push(progress.message ?? '');
        if (seen.length === 2) controller.abort('the agent changed its mind');
      },
    });
    await expect(call).rejects.toThrow();
    await until(() => server.requests.at(-1)?.clientClosed === true, 'the backend request to be aborted');
    expect(server.requests.at(-1)!.messages.at(-1)!.content).toBe('Take your time, zebra-7.');
    expect(seen.length).toBeLessThan(40);

    // Mai goes on: the next call is answered (and any reply to the cancelled one would have come first).
    const next = (await client.callTool({ name: 'chat', arguments: { message: 'Quick one.', model: 'steady' } })) as CallToolResult;
    expect(textOf(next)).toBe('A steady answer in five parts.');
    expect(await storedText()).toContain('Quick one.');
    expect(await storedText()).not.toContain('zebra-7');
    // MCP: the cancelled request gets no response (the SDK reports one for a forgotten id as an error).
    expect(clientErrors.filter((e) => /unknown message ID/.test(e.message))).toEqual([]);
    const status = (await client.callTool({ name: 'status' })) as CallToolResult;
    expect(status.structuredContent).toMatchObject({ counters: { turns: before + 2 } });
  });

  it('a failed tool run is an isError result that says why; an unknown tool or bad arguments are JSON-RPC errors', async () => {
    const unknownModel = (await client.callTool({ name: 'chat', arguments: { message: 'Hi.', model: 'gpt-9' } })) as CallToolResult;
    expect(unknownModel.isError).toBe(true);
    expect(unknownModel.structuredContent).toBeUndefined();
    expect(textOf(unknownModel)).toContain('Unknown model "gpt-9"');
    expect(textOf(unknownModel)).toContain('steady');

    for (const model of server.models.values()) model.behaviour = { kind: 'status', status: 500 };
    const allFailed = (await client.callTool({ name: 'chat', arguments: { message: 'Anyone?' } })) as CallToolResult;
    expect(allFailed.isError).toBe(true);
    const text = textOf(allFailed);
    expect(text).toContain('[all-attempts-failed');
    for (const id of ['flaky', 'steady', 'slow']) expect(text).toMatch(new RegExp(`^  ${id}: `, 'm'));
    expect(await storedText()).not.toContain('Anyone?');

    const unknownTool = await client.callTool({ name: 'translate', arguments: {} }).catch((e: unknown) => e);
    expect(unknownTool).toBeInstanceOf(McpError);
    expect((unknownTool as McpError).code).toBe(ErrorCode.InvalidParams);
    expect((unknownTool as McpError).message).toContain('Unknown tool "translate"');

    const badArguments = await client.callTool({ name: 'chat', arguments: { message: 'Hi.', maxTokens: 0 } }).catch((e: unknown) => e);
    expect(badArguments).toBeInstanceOf(McpError);
    expect((badArguments as McpError).code).toBe(ErrorCode.InvalidParams);
    expect((badArguments as McpError).message).toContain('maxTokens');

    const noMessage = await client.callTool({ name: 'chat', arguments: { text: 'Hi.' } }).catch((e: unknown) => e);
    expect((noMessage as McpError).code).toBe(ErrorCode.InvalidParams);
    expect(stderr).not.toMatch(/uncaught|unhandled/i);
  });
});
