/**
 * Crash safety of the real `mai serve` (node dist/bundle/mai.js over real pipes): SIGKILL in the middle
 * of a streamed turn, restart, and every earlier turn is intact — byte for byte — and the
 * conversation continues; and SIGKILLs at random instants while turns are answered back to back
 * never lose a turn whose answer reached the client, never leave a half turn, and never leave a
 * file Mai cannot read; and a conversation's lock left by a killed process holds up no turn.
 */
import { existsSync, utimesSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Conversation } from '../core/context/message.ts';
import { ConversationStore } from '../core/context/conversation-store.ts';
import { startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';
import { tempDir, writeConfig, type TempDir } from './support/harness.ts';
import { holdLock, stopHolders } from './support/lock-holders.ts';
import { loopbackConfig, spawnServe, type Reply, type ServeProcess } from './support/rpc-client.ts';

const isProgress = (m: Reply | Reply[]) => !Array.isArray(m) && m.method === '$/progress';

describe('mai serve killed with SIGKILL', () => {
  let server: FakeOpenAIServer;
  let dir: TempDir;
  let config: string;
  let stateDir: string;
  let mai: ServeProcess | undefined;
  beforeEach(async () => {
    server = await startOpenAIServer([
      { id: 'quick', reply: (messages) => `Answer ${messages.filter((m) => m.role === 'user').length}: noted.`, chunks: 3 },
      { id: 'slow', reply: 'word '.repeat(60), chunks: 60, chunkDelayMs: 50 },
    ]);
    dir = await tempDir('mai-crash-');
    config = await writeConfig(dir.path, loopbackConfig(server.baseURL, 'models:\n  - id: quick\n  - id: slow\n'));
    stateDir = join(dir.path, 'state');
  });
  afterEach(async () => {
    await stopHolders();
    mai?.child.kill('SIGKILL');
    await mai?.exited;
    mai = undefined;
    await server.close();
    await dir.cleanup();
  });

  const start = () => (mai = spawnServe({ config, framing: 'ndjson', stateDir }));
  const kill = async (process: ServeProcess) => {
    process.child.kill('SIGKILL');
    await process.exited;
  };
  const store = () => new ConversationStore(join(stateDir, 'conversations'));

  it('mid-stream: every earlier turn is intact after a restart, and the conversation continues', async () => {
    let serve = start();
    const first = (await serve.request('chat/send', { message: 'Remember: the code word is heron.', system: 'You are terse.', model: 'quick' })).result as { conversationId: string };
    const id = first.conversationId;
    for (const message of ['Second question.', 'Third question.']) {
      const reply = await serve.request('chat/send', { message, conversationId: id, model: 'quick' });
      expect(reply.error).toBeUndefined();
    }
    const file = store().file(id);
    const before = await readFile(file, 'utf8');

    // A long answer starts streaming; the process dies in the middle of it.
    serve.send({ jsonrpc: '2.0', id: 'doomed', method: 'chat/send', params: { message: 'Write a long answer.', conversationId: id, model: 'slow', progressToken: 'p' } });
    await serve.waitFor(() => serve.messages.filter(isProgress).length >= 5);
    await kill(serve);
    expect(serve.messages.some((m) => !Array.isArray(m) && m.id === 'doomed')).toBe(false); // it never answered

    // On disk: exactly the three finished turns, untouched; nothing of the killed one.
    expect(await readFile(file, 'utf8')).toBe(before);
    const onDisk = (await store().load(id)) as Conversation;
    expect(onDisk.warnings).toEqual([]);
    expect(onDisk.messages.map((m) => m.text)).toEqual([
      'You are terse.',
      'Remember: the code word is heron.',
      'Answer 1: noted.',
      'Second question.',
      'Answer 2: noted.',
      'Third question.',
      'Answer 3: noted.',
    ]);

    // A new process picks the conversation up where it was.
    serve = start();
    const listed = (await serve.request('conversations/list')).result as { conversations: Array<{ id: string; messages: number }> };
    expect(listed.conversations).toEqual([expect.objectContaining({ id, messages: 7 })]);
    const next = await serve.request('chat/send', { message: 'What was the code word?', conversationId: id, model: 'quick' });
    expect(next.result).toMatchObject({ conversationId: id, text: 'Answer 4: noted.', model: 'quick' });
    const sent = server.requests.at(-1)!.messages.map((m) => m.content);
    expect(sent).toEqual([...onDisk.messages.map((m) => m.text), 'What was the code word?']);
    const got = (await serve.request('conversations/get', { id })).result as Conversation;
    expect(got.messages).toHaveLength(9);
    expect(got.messages.at(-1)).toMatchObject({ role: 'assistant', text: 'Answer 4: noted.', model: 'quick' });
    expect((await readFile(file, 'utf8')).startsWith(before)).toBe(true);
  }, 60_000);

  it('a conversation whose lock was left by a process killed while holding it is continued at once', async () => {
    const serve = start();
    const first = (await serve.request('chat/send', { message: 'First question.', model: 'quick' })).result as { conversationId: string };
    const id = first.conversationId;
    // Another process takes the conversation's lock and is killed holding it (a crash mid-write);
    // the lock's mtime is then set an hour ahead, so only its dead holder can tell it is free.
    const file = store().file(id);
    const holder = await holdLock(file, 10_000);
    await holder.kill();
    const ahead = new Date(Date.now() + 3_600_000);
    utimesSync(`${file}.lock`, ahead, ahead);
    const next = await serve.request('chat/send', { message: 'Second question.', conversationId: id, model: 'quick' });
    expect(next.error).toBeUndefined();
    expect(next.result).toMatchObject({ conversationId: id, text: 'Answer 2: noted.' });
    expect(((await store().load(id)) as Conversation).messages.map((m) => m.text)).toEqual(['First question.', 'Answer 1: noted.', 'Second question.', 'Answer 2: noted.']);
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  it('at random instants between and during turns: no answered turn is lost, no half turn is kept', async () => {
    let id: string | undefined;
    const answered: string[] = [];
    for (let round = 0; round < 4; round++) {
      const serve = start();
      await serve.request('conversations/list'); // up and answering
      let stop = false;
      const before = answered.length;
      let firstAnswered: () => void = () => {};
      const first = new Promise<void>((resolve) => (firstAnswered = resolve));
      const turns = (async () => {
        for (let i = 0; !stop; i++) {
          const message = `round ${round} turn ${i}`;
          const reply = await serve.request('chat/send', { message, model: 'quick', ...(id ? { conversationId: id } : {}) }).catch(() => null);
          if (!reply?.result) return;
          id ??= (reply.result as { conversationId: string }).conversationId;
          answered.push(message);
          firstAnswered();
        }
      })();
      // Let a turn through (milliseconds on a quiet machine, more than a fixed window on a loaded one),
      // then more for an arbitrary while, then kill at that moment. A turn takes ~10 ms here, so the
      // 0-200 ms window falls anywhere in the first ~20 turns: between two turns or in any part of one
      // (600 ms only ran more turns back to back, at ~2 cores' worth of CPU the while).
      const late = setTimeout(() => firstAnswered(), 15_000);
      await Promise.race([first, turns]);
      clearTimeout(late);
      if (answered.length === before) throw new Error(`round ${round}: no turn was answered within 15 s (stderr: ${serve.stderr()})`);
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 200)));
      stop = true;
      // Once the process is gone (its stdout read to the end), every answer it sent has been seen;
      // a request still in flight can no longer be answered, so the loop need not be waited for.
      await kill(serve);
      if (!id) continue;
      const conversation = (await store().load(id)) as Conversation;
      const users = conversation.messages.filter((m) => m.role === 'user').map((m) => m.text);
      // Every turn the client saw answered is on disk, in order; at most the one in flight is missing.
      expect(users.slice(0, answered.length)).toEqual(answered);
      expect(users.length - answered.length).toBeLessThanOrEqual(1);
      // Whole turns only: user, assistant, user, assistant…
      expect(conversation.messages.map((m) => m.role)).toEqual(conversation.messages.map((_, i) => (i % 2 === 0 ? 'user' : 'assistant')));
      // A turn that was on disk but not yet answered to the client counts as answered from now on.
      answered.splice(0, answered.length, ...users);
    }
  }, 120_000);
});
