/**
 * A message whose `method`, `id` or `jsonrpc` nests thousands of levels deep (issue 16, defect 1):
 * describing it in the -32600 reply once overflowed the stack, the throw escaped the conformance
 * layer, and the decoder read the same line again with every later chunk — a `chat/send` in the
 * same write was answered (and stored) five times, and nothing after it was answered. Now: one
 * -32600 for the deep message, every other message answered exactly once, on both faces.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir, writeConfig, type TempDir } from './support/harness.ts';
import { startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';
import { frame, loopbackConfig, type Reply } from './support/rpc-client.ts';
import { endServe, linkServe, writeAsPipe, type LinkedServe } from './support/rpc-link.ts';

const DEPTH = 20_000;
/** Objects in objects (an array was always described without being printed). */
const deep = (leaf: string) => `${'{"a":'.repeat(DEPTH)}${leaf}${'}'.repeat(DEPTH)}`;
const flat = (messages: Array<Reply | Reply[]>): Reply[] => messages.flatMap((m) => (Array.isArray(m) ? m : [m])).filter((m) => m.method === undefined);

describe('deeply nested members', () => {
  let server: FakeOpenAIServer;
  let dir: TempDir;
  let config: string;
  let mai: LinkedServe | undefined;
  beforeEach(async () => {
    server = await startOpenAIServer([{ id: 'alpha', reply: 'Alpha answers.', chunks: 2 }]);
    dir = await tempDir('mai-deep-');
    config = await writeConfig(dir.path, loopbackConfig(server.baseURL));
  });
  afterEach(async () => {
    await endServe(mai);
    mai = undefined;
    await server.close();
    await dir.cleanup();
  });

  it.each([
    ['method', `{"jsonrpc":"2.0","id":1,"method":${deep('"x"')}}`],
    ['id', `{"jsonrpc":"2.0","id":${deep('1')},"method":"status"}`],
    ['jsonrpc', `{"jsonrpc":${deep('"2.0"')},"id":1,"method":"status"}`],
    ['a batch member', `[{"jsonrpc":"2.0","id":1,"method":${deep('"x"')}}]`],
  ])('a deep %s is one -32600, and the chat/send written with it is answered and stored once', async (_what, line) => {
    // The server stack linked in this process, fed as a pipe feeds `mai serve` (writeAsPipe). The real
    // process's framing and stdio: rpc-startup, rpc-eof, rpc-framing-faults and mcp-wire's spawned cases.
    const link = linkServe({ config, framing: 'ndjson' });
    mai = link;
    const chat = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'chat/send', params: { message: 'hello', model: 'alpha' } });
    const status = JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'status' });
    writeAsPipe(link, `${line}\n${chat}\n${status}\n`); // one write, as the defect needed
    await link.waitFor((m) => !Array.isArray(m) && m.id === 3);
    await link.waitFor((m) => !Array.isArray(m) && m.id === 2);
    const list = await link.request('conversations/list');
    await new Promise((r) => setTimeout(r, 200)); // a replayed line would have been answered by now
    const replies = flat(link.messages);
    const invalid = replies.filter((r) => r.error?.code === -32600);
    expect(invalid).toHaveLength(1);
    expect(invalid[0]!.error!.message.length).toBeLessThan(400);
    expect(replies.filter((r) => r.id === 2)).toHaveLength(1);
    expect(replies.filter((r) => r.id === 3)).toHaveLength(1);
    expect((list.result as { conversations: unknown[] }).conversations).toHaveLength(1);
    expect(server.requests.filter((r) => r.model === 'alpha')).toHaveLength(1);
    expect(link.garbage).toEqual([]);
  });

  it('Content-Length framing: one -32600, then everything after answered', async () => {
    mai = linkServe({ config, framing: 'content-length' });
    writeAsPipe(mai, frame('content-length', `{"jsonrpc":"2.0","id":${deep('1')},"method":"status"}`));
    const replies = await Promise.all([1, 2, 3].map(() => mai!.request('status')));
    expect(replies.every((r) => r.error === undefined)).toBe(true);
    expect(flat(mai.messages).filter((r) => r.error?.code === -32600)).toHaveLength(1);
  });

  it('--mcp: one -32600, then ping answered once', async () => {
    mai = linkServe({ config, framing: 'ndjson', mcp: true });
    writeAsPipe(mai, `{"jsonrpc":"2.0","id":1,"method":${deep('"x"')}}\n{"jsonrpc":"2.0","id":2,"method":"ping"}\n`);
    await mai.waitFor((m) => !Array.isArray(m) && m.id === 2);
    const again = await mai.request('ping');
    expect(again.error).toBeUndefined();
    const replies = flat(mai.messages);
    expect(replies.filter((r) => r.error?.code === -32600)).toHaveLength(1);
    expect(replies.filter((r) => r.id === 2)).toHaveLength(1);
  });
});
