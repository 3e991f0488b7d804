/**
 * Standing reliability suite (issue 16): SIGKILL of the real `mai serve` during consecutive turns of
 * one conversation. After each kill the file must read back (no error), hold every turn that was
 * answered, and miss at most the turn in flight; a new process continues the same conversation.
 * Short variant in `npm test`; MAI_RELIABILITY=long kills more often over 20 turns.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConversationStore } from '../../core/context/conversation-store.ts';
import { startOpenAIServer, type FakeOpenAIServer } from '../support/openai-server.ts';
import { tempDir, writeConfig, type TempDir } from '../support/harness.ts';
import { loopbackConfig, spawnServe, type ServeProcess } from '../support/rpc-client.ts';
import { recordFigures, scale } from './figures.ts';

describe('SIGKILL during the turns of one conversation', () => {
  const turns = scale(8, 20);
  const kills = scale(2, 6);
  let server: FakeOpenAIServer;
  let dir: TempDir;
  let config: string;
  let mai: ServeProcess | undefined;
  beforeAll(async () => {
    // Slow enough streaming that a kill can land inside a turn.
    server = await startOpenAIServer([{ id: 'alpha', reply: 'one two three four five six', chunks: 6, chunkDelayMs: 15 }]);
    dir = await tempDir('mai-sigkill-');
    config = await writeConfig(dir.path, loopbackConfig(server.baseURL));
  });
  afterAll(async () => {
    mai?.child.kill('SIGKILL');
    await mai?.exited;
    await server.close();
    await dir.cleanup();
  });

  it('the file reads back after every kill, at most the in-flight turn missing', async () => {
    const stateDir = join(dir.path, 'state');
    const store = () => new ConversationStore(join(stateDir, 'conversations'));
    let conversationId: string | undefined;
    let answered = 0;
    let killed = 0;
    const lostInFlight: number[] = [];
    const killAt = new Set(Array.from({ length: kills }, (_, k) => Math.floor(((k + 1) * turns) / (kills + 1))));
    for (let turn = 0; turn < turns; turn++) {
      mai ??= spawnServe({ config, framing: 'ndjson', stateDir });
      const running = mai;
      const reply = running.request('chat/send', { message: `turn ${turn}`, ...(conversationId ? { conversationId } : {}) });
      reply.catch(() => undefined); // the killed turn's reply never comes
      if (killAt.has(turn) && conversationId) {
        await new Promise((resolve) => setTimeout(resolve, 20 + ((turn * 37) % 60)));
        running.child.kill('SIGKILL');
        await running.exited;
        mai = undefined;
        killed++;
        const back = await store().load(conversationId);
        expect(back).not.toBeNull();
        const users = back!.messages.filter((m) => m.role === 'user').length;
        // Every answered turn is there; the killed one is there whole or not at all.
        expect(users === answered || users === answered + 1).toBe(true);
        expect(back!.messages.length).toBe(users * 2);
        if (users === answered) lostInFlight.push(turn);
        answered = users;
        continue;
      }
      const result = (await reply).result as { conversationId: string };
      conversationId = result.conversationId;
      answered++;
    }
    mai?.child.kill();
    await mai?.exited;
    mai = undefined;
    const final = await store().load(conversationId!);
    expect(final!.messages.filter((m) => m.role === 'user')).toHaveLength(answered);
    await recordFigures('sigkill', { turns, kills: killed, answeredTurnsInFile: answered, inFlightTurnsLost: lostInFlight.length, warnings: final!.warnings.length });
  }, 300_000);
});
