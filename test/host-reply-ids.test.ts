/**
 * The forwarder's reading of the host's output (rpc/host/reply-ids.ts): the ids of the replies,
 * in both framings, however the bytes are cut into chunks, while `$/progress` notifications (even
 * ones that carry an "id" deep inside) are passed over.
 */
import { describe, expect, it } from 'vitest';
import { encodeFrame, type Framing } from '../rpc/framing.ts';
import { ReplyIds, type ReplyId } from '../rpc/host/reply-ids.ts';

const progress = (i: number) => ({ jsonrpc: '2.0', method: '$/progress', params: { token: 't', value: { kind: 'delta', text: `piece ${i} «ünï»`, model: 'm', id: 99 } } });
const messages: unknown[] = [
  progress(0),
  { jsonrpc: '2.0', id: 1, result: { text: 'x'.repeat(5000), conversationId: 'c' } },
  progress(1),
  { jsonrpc: '2.0', id: 'two', error: { code: -32800, message: 'cancelled' } },
  { id: 3, result: 0 }, // shorter than the bytes a frame is judged by
  [
    { jsonrpc: '2.0', id: 4, result: null },
    { jsonrpc: '2.0', id: 5, result: 'ok' },
  ],
  progress(2),
  { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } }, // no request to match
  { jsonrpc: '2.0', method: 'window/logMessage', params: { id: 7 } },
  { jsonrpc: '2.0', id: 6, result: { note: 'the last' } },
];
const expected: ReplyId[] = [1, 'two', 3, 4, 5, 6];

function bytesOf(framing: Framing): Buffer {
  return Buffer.from(messages.map((m) => encodeFrame(framing, JSON.stringify(m))).join(''), 'utf8');
}

function idsFrom(chunks: Buffer[]): ReplyId[] {
  const found: ReplyId[] = [];
  const reader = new ReplyIds((id) => found.push(id));
  for (const chunk of chunks) reader.push(chunk);
  return found;
}

describe.each(['content-length', 'ndjson'] as const)('reply ids in the host output (%s)', (framing) => {
  const all = bytesOf(framing);

  it('finds every reply in one chunk, and only replies', () => {
    expect(idsFrom([all])).toEqual(expected);
  });

  it('finds the same however the bytes are cut', () => {
    for (const size of [1, 2, 3, 7, 31, 32, 33, 64, 100, 1000]) {
      const chunks: Buffer[] = [];
      for (let at = 0; at < all.length; at += size) chunks.push(all.subarray(at, at + size));
      expect(idsFrom(chunks), `chunks of ${size} bytes`).toEqual(expected);
    }
    // Cut in two at points all across the stream.
    for (let at = 1; at < all.length; at += 17) expect(idsFrom([all.subarray(0, at), all.subarray(at)]), `cut at ${at}`).toEqual(expected);
  });

  it('finds the same when each chunk is a view of one read buffer, read into again after each push (the forwarder\'s onread)', () => {
    for (const size of [7, 33, 100, 1000, 70_000]) {
      const found: ReplyId[] = [];
      const reader = new ReplyIds((id) => found.push(id));
      const read = Buffer.alloc(Math.max(size, 1));
      for (let at = 0; at < all.length; at += size) {
        const part = all.subarray(at, at + size);
        part.copy(read);
        reader.push(read.subarray(0, part.length));
        read.fill(0x7b); // the next read overwrites it: what the reader kept must be its own
      }
      expect(found, `reads of ${size} bytes`).toEqual(expected);
    }
  });

  it('keeps reading after a frame it cannot parse', () => {
    const broken = Buffer.from(encodeFrame(framing, '{"jsonrpc":"2.0","id":8,"result":'), 'utf8');
    const after = Buffer.from(encodeFrame(framing, JSON.stringify({ jsonrpc: '2.0', id: 9, result: true })), 'utf8');
    expect(idsFrom([broken, after])).toEqual([9]);
  });
});
