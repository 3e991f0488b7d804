/**
 * Issue 16, defect 8: nothing is lost quietly on read. conversations/get returns `warnings` for a
 * zero-length file, for bytes that are not UTF-8 (read as U+FFFD), and for a torn turn it dropped —
 * in its reply, not only on stderr. Real files on disk, the real `mai serve` over a real pipe: one
 * process for the file (each case writes a conversation of its own, which conversations/get reads
 * from disk when asked).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';
import { tempDir, writeConfig, type TempDir } from './support/harness.ts';
import { loopbackConfig, spawnServe, type ServeProcess } from './support/rpc-client.ts';

const record = (value: unknown) => `${JSON.stringify(value)}\n`;
const message = (role: string, text: string, turn: string, last = false) =>
  record({ type: 'message', turn, ...(last ? { last: true } : {}), message: { role, text, at: '2026-01-01T00:00:00.000Z' } });

describe('conversations/get says what it could not read back', () => {
  let server: FakeOpenAIServer;
  let dir: TempDir;
  let mai: ServeProcess;
  let conversations: string;
  beforeAll(async () => {
    server = await startOpenAIServer([{ id: 'alpha', reply: 'Alpha answers.' }]);
    dir = await tempDir('mai-readloss-');
    const config = await writeConfig(dir.path, loopbackConfig(server.baseURL));
    conversations = join(dir.path, 'state', 'conversations');
    await mkdir(conversations, { recursive: true });
    mai = spawnServe({ config, framing: 'ndjson', stateDir: join(dir.path, 'state') });
  });
  afterAll(async () => {
    mai.child.kill();
    await mai.exited;
    await server.close();
    await dir.cleanup();
  });

  const get = async (id: string) => (await mai.request('conversations/get', { id })).result as { messages: Array<{ text: string }>; warnings: string[] };

  it('a zero-length file: no messages, and a warning that it is empty', async () => {
    await writeFile(join(conversations, 'empty.jsonl'), '');
    const got = await get('empty');
    expect(got.messages).toEqual([]);
    expect(got.warnings).toHaveLength(1);
    expect(got.warnings[0]).toMatch(/empty\.jsonl is empty \(0 bytes\)/);
  });

  it('bytes that are not UTF-8: the text reads with U+FFFD and a warning names the line', async () => {
    const head = record({ type: 'meta', id: 'latin1', createdAt: '2026-01-01T00:00:00.000Z' });
    // A user message whose text is "caf" and one Latin-1 byte (0xE9), as an editor in Latin-1 would write it.
    const user = Buffer.from(message('user', 'cafX', 't1'));
    const at = user.indexOf('cafX') + 3;
    const latin1 = Buffer.concat([user.subarray(0, at), Buffer.from([0xe9]), user.subarray(at + 1)]);
    await writeFile(join(conversations, 'latin1.jsonl'), Buffer.concat([Buffer.from(head), latin1, Buffer.from(message('assistant', 'ok', 't1', true))]));
    const got = await get('latin1');
    expect(got.messages.map((m) => m.text)).toEqual(['caf\uFFFD', 'ok']);
    expect(got.warnings.join('\n')).toMatch(/latin1\.jsonl: line\(s\) 2 hold bytes that are not UTF-8/);
  });

  it('a turn torn by a crash: the earlier turns, and a warning in the reply saying what was dropped', async () => {
    const text =
      record({ type: 'meta', id: 'torn', createdAt: '2026-01-01T00:00:00.000Z' }) +
      message('user', 'one', 't1') +
      message('assistant', 'answer one', 't1', true) +
      message('user', 'two', 't2') +
      '{"type":"message","turn":"t2","mess';
    await writeFile(join(conversations, 'torn.jsonl'), text);
    const got = await get('torn');
    expect(got.messages.map((m) => m.text)).toEqual(['one', 'answer one']);
    expect(got.warnings.join('\n')).toMatch(/skipped a torn record/);
    expect(got.warnings.join('\n')).toMatch(/skipped an unfinished turn \(1 message\(s\)\)/);
  });
});
