/**
 * The forwarder reads a reply's id from the reply's first bytes (rpc/host/reply-ids.ts) instead of
 * parsing the whole reply: the ids it finds must be the ones a full parse finds, for ids of every
 * shape (negative, exponent, long, escaped, non-ASCII, null), for the host's own requests (not
 * replies) and for a cut-off reply (not one), however the bytes are cut.
 */
import { describe, expect, it } from 'vitest';
import { encodeFrame, type Framing } from '../rpc/framing.ts';
import { leadingId, ReplyIds, type ReplyId } from '../rpc/host/reply-ids.ts';

/** Frames' JSON texts, written as a host might (some by hand: JSON.stringify never writes `1e3`). */
const texts = [
  '{"jsonrpc":"2.0","id":-12,"result":{"text":"a"}}',
  '{"jsonrpc":"2.0","id":1e3,"result":0}',
  '{"jsonrpc":"2.0","id":2.5,"error":{"code":-32603,"message":"x"}}',
  JSON.stringify({ jsonrpc: '2.0', id: 'a"b\\c', result: 'escaped' }),
  JSON.stringify({ jsonrpc: '2.0', id: 'ünï-ид', result: 'not ASCII' }),
  JSON.stringify({ jsonrpc: '2.0', id: 'x'.repeat(300), result: 'a long id' }),
  JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } }),
  JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'window/showMessageRequest', params: {} }), // the host's request: no reply
  '{ "jsonrpc": "2.0", "id": 4, "result": true }', // blanks: parsed whole
  JSON.stringify({ jsonrpc: '2.0', method: '$/progress', params: { token: 't', value: { id: 5 } } }),
  JSON.stringify({ jsonrpc: '2.0', id: 'c-6', result: { text: 'y'.repeat(3000) } }),
  JSON.stringify({ jsonrpc: '2.0', id: 7, result: null }),
];

/** What a full parse of each frame finds. */
function parsedIds(): ReplyId[] {
  const ids: ReplyId[] = [];
  for (const text of texts) {
    const value = JSON.parse(text) as unknown;
    for (const message of Array.isArray(value) ? value : [value]) {
      const { id, method } = message as { id?: unknown; method?: unknown };
      if (method === undefined && (typeof id === 'string' || typeof id === 'number')) ids.push(id);
    }
  }
  return ids;
}

function idsFrom(chunks: Buffer[]): ReplyId[] {
  const found: ReplyId[] = [];
  const reader = new ReplyIds((id) => found.push(id));
  for (const chunk of chunks) reader.push(chunk);
  return found;
}

describe('a reply id read from the reply\'s first bytes', () => {
  it('is the id, undefined while bytes are missing, null when the frame is to be parsed whole', () => {
    expect(leadingId(Buffer.from('{"jsonrpc":"2.0","id":17,"result":1}'))).toBe(17);
    expect(leadingId(Buffer.from('{"jsonrpc":"2.0","id":"abc","error":{}}'))).toBe('abc');
    expect(leadingId(Buffer.from('{"jsonrpc":"2.0","id":17'))).toBeUndefined();
    expect(leadingId(Buffer.from('{"jsonrpc":"2.0","id":17,"res'))).toBeUndefined();
    expect(leadingId(Buffer.from('{"jsonrpc":"2.0","id":"ab'))).toBeUndefined();
    expect(leadingId(Buffer.from('{"jsonrpc":"2.0","id":null,"error":{}}'))).toBeNull();
    expect(leadingId(Buffer.from('{"jsonrpc":"2.0","id":"a\\"b","result":1}'))).toBeNull();
    expect(leadingId(Buffer.from('{"jsonrpc":"2.0","id":1,"method":"x"}'))).toBeNull();
  });

  describe.each(['content-length', 'ndjson'] as const)('in the host output (%s)', (framing: Framing) => {
    const all = Buffer.from(texts.map((text) => encodeFrame(framing, text)).join(''), 'utf8');
    const expected = parsedIds();

    it('finds what a full parse finds, however the bytes are cut', () => {
      expect(expected).toEqual([-12, 1000, 2.5, 'a"b\\c', 'ünï-ид', 'x'.repeat(300), 4, 'c-6', 7]);
      expect(idsFrom([all])).toEqual(expected);
      for (const size of [1, 2, 5, 9, 23, 24, 25, 31, 32, 33, 40, 64, 257]) {
        const chunks: Buffer[] = [];
        for (let at = 0; at < all.length; at += size) chunks.push(all.subarray(at, at + size));
        expect(idsFrom(chunks), `chunks of ${size} bytes`).toEqual(expected);
      }
    });

    it('reads header blocks other than the host\'s own', () => {
      if (framing === 'ndjson') return;
      const body = (id: number) => `{"jsonrpc":"2.0","id":${id},"result":"ok"}`;
      const frames = [
        `Content-Type: application/vscode-jsonrpc; charset=utf-8\r\nContent-Length: ${body(1).length}\r\n\r\n${body(1)}`,
        `content-length:${body(2).length}\r\n\r\n${body(2)}`,
        `Content-Length: ${body(3).length}\r\nX-Other: 1\r\n\r\n${body(3)}`,
      ];
      const bytes = Buffer.from(frames.join(''));
      expect(idsFrom([bytes])).toEqual([1, 2, 3]);
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length; at += 5) chunks.push(bytes.subarray(at, at + 5));
      expect(idsFrom(chunks)).toEqual([1, 2, 3]);
    });

    it('does not count a reply cut off before its end', () => {
      const cut = Buffer.from(encodeFrame(framing, '{"jsonrpc":"2.0","id":8,"result":{"text":"abc"'), 'utf8');
      const after = Buffer.from(encodeFrame(framing, '{"jsonrpc":"2.0","id":9,"result":true}'), 'utf8');
      expect(idsFrom([cut, after])).toEqual([9]);
    });
  });
});
