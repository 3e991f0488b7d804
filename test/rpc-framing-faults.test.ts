/**
 * Framing faults on the real `mai serve` (issue 16, defects 6 and 7): a message over the size limit
 * is answered with an error naming the limit and the config key, and skipped; a huge announced
 * Content-Length swallows nothing after it; an error reply never repeats a large input; and a
 * header that breaks sync (negative, too small, too large, LF-only, garbage first, -5 alone) is
 * answered as a parse error while every later request is still answered.
 * The framing is the server stack's (rpc/serve-streams.ts), so the cases link it in this process over an
 * in-memory pair (test/support/rpc-link.ts) with the same bytes; a message larger than a pipe's buffer
 * is written in pieces of that size (writeAsPipe), so it arrives in many reads as it does in the real
 * process (whose framing over its pipes: rpc-startup's and rpc-eof's spawned cases).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir, writeConfig, type TempDir } from './support/harness.ts';
import { startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';
import { frame, loopbackConfig, type Reply, type ServeEnd, type WireFraming } from './support/rpc-client.ts';
import { endServe, linkServe, writeAsPipe, type LinkedServe } from './support/rpc-link.ts';

const flat = (messages: Array<Reply | Reply[]>): Reply[] => messages.flatMap((m) => (Array.isArray(m) ? m : [m])).filter((m) => m.method === undefined);
const status = (id: number) => JSON.stringify({ jsonrpc: '2.0', id, method: 'status' });
const tenStatus = (framing: WireFraming) => Array.from({ length: 10 }, (_, i) => frame(framing, status(100 + i))).join('');

describe('framing faults', () => {
  let server: FakeOpenAIServer;
  let dir: TempDir;
  let mai: LinkedServe | undefined;
  beforeEach(async () => {
    server = await startOpenAIServer([{ id: 'alpha' }]);
    dir = await tempDir('mai-framing-');
  });
  afterEach(async () => {
    await endServe(mai);
    mai = undefined;
    await server.close();
    await dir.cleanup();
  });

  /** `mai serve` linked in this process. */
  const start = async (framing: WireFraming, extra = ''): Promise<LinkedServe> => {
    const config = await writeConfig(dir.path, loopbackConfig(server.baseURL, extra));
    const m = linkServe({ config, framing });
    mai = m;
    expect((await m.request('status')).error).toBeUndefined(); // Mai (and its config's limit) is ready
    return m;
  };
  /** Waits until a reply matches (already read or still to come). */
  const until = async (m: ServeEnd, match: (r: Reply) => boolean): Promise<Reply> => {
    for (let i = 0; i < 400; i++) {
      const found = flat(m.messages).find(match);
      if (found) return found;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`no such reply; ${m.messages.length} messages came: ${JSON.stringify(flat(m.messages).map((r) => r.id))}`);
  };
  const allTenAnswered = async (m: ServeEnd) => {
    for (let id = 100; id < 110; id++) await until(m, (r) => r.id === id);
    expect(flat(m.messages).filter((r) => r.id !== null && r.error)).toEqual([]);
    expect(m.garbage).toEqual([]);
  };

  it.each<WireFraming>(['ndjson', 'content-length'])('%s: a message over server.maxMessageBytes is refused with the limit and the key, then the next ones are answered', async (framing) => {
    const m = await start(framing, 'server: { maxMessageBytes: 65536 }');
    const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'chat/send', params: { message: 'x'.repeat(200_000) } });
    writeAsPipe(m, frame(framing, big) + tenStatus(framing));
    const refused = await until(m, (r) => r.id === null);
    expect(refused.error?.code).toBe(-32700);
    expect(refused.error?.message).toContain('65536');
    expect(refused.error?.message).toContain('server.maxMessageBytes');
    await allTenAnswered(m);
    expect(flat(m.messages).filter((r) => r.id === 1)).toEqual([]); // skipped, never run
  });

  it('Content-Length: 99999999999 swallows nothing after it', async () => {
    const m = await start('content-length');
    m.writeRaw('Content-Length: 99999999999\r\n\r\n' + tenStatus('content-length'));
    const refused = await until(m, (r) => r.id === null);
    expect(refused.error?.message).toContain('99999999999');
    await allTenAnswered(m);
  });

  it('an error reply never repeats a large input', async () => {
    const m = await start('ndjson');
    m.writeRaw(`{"jsonrpc":"2.0","id":1,"method":"${'m'.repeat(2_000_000)}"}\n`); // unknown method: -32601 names it
    m.writeRaw(`{"jsonrpc":"2.0","id":2,"method":"status","params":{"a":"${'p'.repeat(2_000_000)}"\n`); // not JSON: -32700
    const unknown = await until(m, (r) => r.id === 1);
    const unparsable = await until(m, (r) => r.id === null);
    expect(unknown.error?.code).toBe(-32601);
    expect(unparsable.error?.code).toBe(-32700);
    expect(JSON.stringify(unknown).length).toBeLessThan(4_000);
    expect(JSON.stringify(unparsable).length).toBeLessThan(4_000);
  });

  const body = status(1);
  const n = Buffer.byteLength(body);
  it.each([
    ['a negative length with a body', `Content-Length: -5\r\n\r\n${body}`],
    ['a length too small', `Content-Length: ${n - 10}\r\n\r\n${body}`],
    ['a length too large', `Content-Length: ${n + 30}\r\n\r\n${body}`],
    ['a length far too large', `Content-Length: ${n + 5000}\r\n\r\n${body}`],
    ['garbage before a header', `garbage!\r\nContent-Length: ${n}\r\n\r\n${body}`],
    ['a header without a colon', `Content-Length ${n}\r\n\r\n${body}`],
    ['-5 alone', 'Content-Length: -5\r\n\r\n'],
    ['-5 as a header line of the next message', 'Content-Length: -5\r\n'],
  ])('Content-Length: %s is a parse error, and the 10 requests after it are answered', async (_what, broken) => {
    const m = await start('content-length');
    m.writeRaw(broken + tenStatus('content-length'));
    await allTenAnswered(m);
    expect(flat(m.messages).some((r) => r.id === null && r.error?.code === -32700)).toBe(true);
  });

  it('Content-Length headers with LF-only line ends are read', async () => {
    const m = await start('content-length');
    m.writeRaw(`Content-Length: ${n}\n\n${body}` + Array.from({ length: 10 }, (_, i) => `Content-Length: ${n + 2}\n\n${status(100 + i)}`).join(''));
    await allTenAnswered(m);
    expect(flat(m.messages).filter((r) => r.id === 1 && !r.error)).toHaveLength(1);
  });
});
