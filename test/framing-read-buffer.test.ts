/**
 * The frame decoder (rpc/framing.ts) as the forwarder uses it: each chunk a view of one read buffer
 * that is read into again after the push (net's `onread`), with keep() copying what a frame spread
 * over reads left behind; and the short way a plain `Content-Length: N` frame whole in a read is
 * taken, which must give the same frames and errors as the long way, whatever the cut.
 */
import { describe, expect, it } from 'vitest';
import { FrameDecoder } from '../rpc/framing.ts';

type Event = ['frame', string] | ['bad', string];

const frame = (json: string) => `Content-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`;
const request = (id: number, text: string) => JSON.stringify({ jsonrpc: '2.0', id, method: 'chat/send', params: { message: text } });

/** Plain frames, and what takes the long way: another header, a pretty-printed body, a broken length, a header inside a body. */
const input = Buffer.from(
  [
    frame(request(1, 'hello «ünï» '.repeat(20))),
    frame(request(2, 'short')),
    `content-length: ${Buffer.byteLength(request(3, 'lower'))}\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n${request(3, 'lower')}`,
    frame(JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'status' }, null, 2)), // newlines in the body
    'Content-Length: 400\r\n\r\n{"jsonrpc":"2.0","id":5,', // too long: a header shows up inside the body
    frame(request(6, 'after the broken one')),
    'Content-Length: 0\r\n\r\n',
    frame(request(7, 'x'.repeat(3000))),
    frame(request(8, 'the last')),
  ].join(''),
  'utf8',
);

function decode(chunks: (push: (chunk: Buffer) => void) => void, keep: (decoder: FrameDecoder) => void = () => {}): Event[] {
  const events: Event[] = [];
  const decoder = new FrameDecoder({ frame: (text) => events.push(['frame', text]), badFrame: (reason) => events.push(['bad', reason]) });
  chunks((chunk) => {
    decoder.push(chunk);
    keep(decoder);
  });
  decoder.end();
  return events;
}

describe('the frame decoder over a reused read buffer', () => {
  const whole = decode((push) => push(input));

  it('reads plain frames and the rest alike: the frames in order, one error for the broken length', () => {
    const frames = whole.filter(([kind]) => kind === 'frame').map(([, text]) => text);
    expect(frames.map((text) => (text === '' ? null : (JSON.parse(text) as { id: number }).id))).toEqual([1, 2, 3, 4, 6, null, 7, 8]);
    expect(frames[0]).toBe(request(1, 'hello «ünï» '.repeat(20)));
    expect(whole.filter(([kind]) => kind === 'bad')).toHaveLength(1);
  });

  it('gives the same events however the bytes are cut', () => {
    for (const size of [1, 5, 22, 23, 64, 333, 4096]) {
      const events = decode((push) => {
        for (let at = 0; at < input.length; at += size) push(input.subarray(at, at + size));
      });
      expect(events, `chunks of ${size} bytes`).toEqual(whole);
    }
  });

  it('gives the same events when each chunk is a view of one buffer read into again, with keep() after each push', () => {
    for (const size of [1, 7, 64, 333, 4096, 70_000]) {
      const read = Buffer.alloc(size);
      const events = decode(
        (push) => {
          for (let at = 0; at < input.length; at += size) {
            const part = input.subarray(at, at + size);
            part.copy(read);
            push(read.subarray(0, part.length));
          }
        },
        (decoder) => {
          decoder.keep();
          read.fill(0x43); // the next read overwrites it ('C'): what the decoder kept must be its own
        },
      );
      expect(events, `reads of ${size} bytes`).toEqual(whole);
    }
  });
});
