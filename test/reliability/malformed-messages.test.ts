/**
 * Generated malformed and odd messages against the real `mai serve`, per framing (issue 16): invalid
 * JSON, wrong versions, odd ids, non-string methods, wrong param types, 10 MB strings, 10k-deep
 * nesting, empty and mixed batches, binary, truncated frames and bad headers, from a seeded
 * generator (a failure names its seed). Checked: the process never dies, every reply it writes
 * is JSON-RPC 2.0 (one of result/error, a valid id, an integer code and a message), a valid
 * `status` is answered at the end, and RSS before/after is recorded. Short in `npm test`; 10,000
 * per framing with MAI_RELIABILITY=long.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, writeConfig, type TempDir } from '../support/harness.ts';
import { startOpenAIServer, type FakeOpenAIServer } from '../support/openai-server.ts';
import { frame, loopbackConfig, spawnServe, type Reply, type WireFraming } from '../support/rpc-client.ts';
import { recordFigures, scale } from './figures.ts';

const COUNT = scale(300, 10_000);
const SEED = Number(process.env['MAI_FUZZ_SEED'] ?? 16);

/** mulberry32: a small seeded generator, so a failing run can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generator(next: () => number, framing: WireFraming): () => string {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  const ids = [1, -1, 0, 1.5, '1', '', 'x'.repeat(300), null, true, [], {}, 1e308, Number.MAX_SAFE_INTEGER];
  const methods = ['status', 'models/list', 'conversations/list', 'nope', '', 42, null, ['status'], { m: 1 }, 'chat/send', 'models/switch', 'conversations/get', 'config/reload'];
  const params = [undefined, null, 'x', 1, [], [1, 2], {}, { message: 5 }, { model: 7 }, { id: 3 }, { id: '../../etc/passwd' }, { config: 12 }];
  const deep = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
  const message = () => {
    const m: Record<string, unknown> = { jsonrpc: pick(['2.0', '2.0', '2.0', '1.0', 2, null]), method: pick(methods) };
    if (next() < 0.8) m['id'] = pick(ids);
    const p = pick(params);
    if (p !== undefined) m['params'] = p;
    return JSON.stringify(m);
  };
  const kinds: Array<() => string> = [
    message,
    message,
    () => `[${Array.from({ length: 1 + Math.floor(next() * 4) }, () => (next() < 0.7 ? message() : pick(['1', '"x"', 'null', '[]']))).join(',')}]`,
    () => '[]',
    () => message().slice(0, Math.floor(next() * 30)), // truncated JSON
    () => pick(['{', '}', 'nul', '"\\u12"', '{"jsonrpc":"2.0",}', '01', 'NaN', '\u0000\u0001']),
    () => Buffer.from(Array.from({ length: 40 }, () => Math.floor(next() * 256))).toString('latin1').replaceAll('\n', ' '),
    () => `{"jsonrpc":"2.0","id":${deep(next() < 0.5 ? 10_000 : 200)},"method":"status"}`,
    () => `{"jsonrpc":"2.0","id":1,"method":${deep(10_000)}}`,
  ];
  let bigOnes = 0;
  return () => {
    if (next() < 0.004 && bigOnes < 3) {
      bigOnes++;
      return `{"jsonrpc":"2.0","id":"big","method":"${'m'.repeat(10 * 1024 * 1024)}"}`; // a 10 MB method name
    }
    const text = pick(kinds)();
    if (framing === 'ndjson') return `${text.replaceAll('\n', ' ')}\n`;
    const roll = next();
    if (roll < 0.03) return `Content-Length: ${pick(['-5', 'abc', '', '99999999999'])}\r\n\r\n${text}`; // a bad header
    if (roll < 0.05) return `Content-Length: ${Buffer.byteLength(text) + 7}\r\n\r\n${text}`; // a truncated frame
    if (roll < 0.06) return `junk${text}`; // garbage before the next header
    return frame('content-length', text);
  };
}

/** Why a reply breaks JSON-RPC 2.0, or null. */
function violation(reply: unknown): string | null {
  if (Array.isArray(reply)) return reply.length === 0 ? 'an empty batch reply' : reply.map(violation).find((v) => v) ?? null;
  if (!reply || typeof reply !== 'object') return `not an object: ${JSON.stringify(reply)?.slice(0, 80)}`;
  const r = reply as Record<string, unknown>;
  if (r['jsonrpc'] !== '2.0') return 'jsonrpc is not "2.0"';
  if (typeof r['method'] === 'string') return r['method'] === '$/progress' ? null : `a notification ${String(r['method'])}`;
  const id = r['id'];
  if (!(id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)))) return `a bad id ${JSON.stringify(id)}`;
  if (('result' in r) === ('error' in r)) return 'not exactly one of result and error';
  if ('error' in r) {
    const e = r['error'] as Record<string, unknown> | null;
    if (!e || !Number.isInteger(e['code']) || typeof e['message'] !== 'string') return `a bad error object ${JSON.stringify(e)?.slice(0, 120)}`;
  }
  return null;
}

const rssKb = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);

describe('malformed and odd messages', () => {
  let server: FakeOpenAIServer;
  let dir: TempDir;
  const figures: Record<string, unknown> = { seed: SEED, messagesPerFraming: COUNT };
  beforeAll(async () => {
    server = await startOpenAIServer([{ id: 'alpha' }]);
    dir = await tempDir('mai-fuzz-');
  });
  afterAll(async () => {
    await recordFigures('malformed-messages', figures);
    await server.close();
    await dir.cleanup();
  });

  it.each<WireFraming>(['ndjson', 'content-length'])(
    '%s: no crash, every reply JSON-RPC 2.0, status answered at the end',
    async (framing) => {
      const config = await writeConfig(dir.path, loopbackConfig(server.baseURL), `${framing}.yaml`);
      const mai = spawnServe({ config, framing, stateDir: join(dir.path, `state-${framing}`) });
      try {
        expect((await mai.request('status')).error).toBeUndefined();
        const rssBefore = rssKb(mai.child.pid!);
        const make = generator(random(SEED), framing);
        const started = Date.now();
        for (let i = 0; i < COUNT; i++) {
          if (!mai.child.stdin.write(make())) await new Promise((resolve) => mai.child.stdin.once('drain', resolve));
        }
        // Whatever state the garbage left the framing in, a well-framed status is answered.
        if (framing === 'ndjson') mai.writeRaw('\n');
        const last = await mai.request('status');
        const seconds = (Date.now() - started) / 1000;
        const rssAfter = rssKb(mai.child.pid!);
        const replies: Array<Reply | Reply[]> = mai.messages;
        const violations = replies.map(violation).filter((v): v is string => v !== null);
        figures[framing] = { replies: replies.length, violations: violations.length, crashed: mai.child.exitCode !== null, rssBeforeKb: rssBefore, rssAfterKb: rssAfter, seconds };
        expect(last.error).toBeUndefined();
        expect(mai.child.exitCode).toBeNull();
        expect(violations.slice(0, 5)).toEqual([]);
        expect(mai.garbage).toEqual([]);
      } finally {
        mai.child.kill();
        await mai.exited;
      }
    },
    600_000,
  );
});
