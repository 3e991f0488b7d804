/**
 * One conversation, two windows: a 32k-window model and a 2k-window model take turns (per-turn
 * `model`, then mai.switch) on a real loopback server that rejects, as llama.cpp does, any prompt
 * larger than the model's window. No turn overflows, the system prompt and the user's standing
 * instruction reach every prompt, summaries are written by the smallest loaded model and never twice
 * for one span, and the stored history keeps every original message. A cancelled or failed turn
 * stores nothing.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, MaiError } from '../core/errors.ts';
import { startOpenAIServer, type ChatLogEntry, type FakeOpenAIServer } from './support/openai-server.ts';
import { createTestMai, tempDir, type TempDir } from './support/harness.ts';

const WINDOWS: Record<string, number> = { 'big-32k': 32_768, 'small-2k': 2_048 };
const SYSTEM = 'You are a patient assistant for a hardware shop.';
const INSTRUCTION = 'Always answer in French.';
const isSummaryRequest = (r: ChatLogEntry) => r.messages[0]?.content.startsWith('You condense a conversation') ?? false;
const promptChars = (r: ChatLogEntry) => r.messages.reduce((n, m) => n + m.content.length, 0);

function question(i: number): string {
  const facts = `Order ${1000 + i} is for ${i + 2} boxes of M${(i % 5) + 3} screws, to be delivered to depot ${String.fromCharCode(65 + (i % 26))}.`;
  return `Question ${i}: ${facts} ${'Please also check the stock levels, the delivery slots and the invoice address for this order. '.repeat(12)}`;
}

const ANSWER = 'Les niveaux de stock sont corrects et la livraison est confirmée pour demain matin. '.repeat(30);

function reply(model: string) {
  return (messages: Array<{ role: string; content: string }>) => {
    if (messages[0]?.content.startsWith('You condense a conversation')) return `Résumé par ${model}: commandes, vis, dépôts.`;
    const last = messages.at(-1)?.content ?? '';
    return `Réponse de ${model} à « ${last.slice(0, 12)} »: ${ANSWER}`;
  };
}

describe('a conversation alternating a 32k-window and a 2k-window model', () => {
  let server: FakeOpenAIServer;
  let dir: TempDir;
  beforeEach(async () => {
    server = await startOpenAIServer(
      Object.entries(WINDOWS).map(([id, contextLength]) => ({ id, contextLength, reply: reply(id), chunks: 3 })),
    );
    dir = await tempDir();
  });
  afterEach(async () => {
    await server.close();
    await dir.cleanup();
  });

  const config = (url: string) => `
backends:
  - use: openai
    name: loop
    options: { baseURL: ${url} }
scorers:
  - use: context-fit
models:
  - { id: big-32k, contextLength: 32768, tier: large }
  - { id: small-2k, contextLength: 2048, tier: small }
fallback: { retries: 0, auto: false }
context:
  stateDir: ./state
  summary: auto
`;

  it('never overflows either window and keeps the instructions in every prompt', async () => {
    const { mai } = await createTestMai(dir.path, config(server.baseURL));
    const first = await mai.chat({ message: INSTRUCTION, system: SYSTEM, model: 'small-2k' });
    const id = first.conversationId;
    const turns = 26;
    for (let i = 0; i < turns; i++) {
      const model = i % 2 === 0 ? 'big-32k' : 'small-2k';
      // Half the turns name the model, the other half pin it with switch.
      const result = i % 4 < 2 ? await mai.chat({ message: question(i), conversationId: id, model }) : await (async () => {
        await mai.switch(model);
        return mai.chat({ message: question(i), conversationId: id });
      })();
      expect(result.model, `turn ${i}`).toBe(model);
      expect(result.attempts, `turn ${i}`).toEqual([{ model }]);
    }
    const stored = await mai.getConversation(id);
    await mai.close();

    // The server would have refused any prompt over its window (llama.cpp's 400): none was over.
    expect(server.requests.length).toBeGreaterThan(turns);
    for (const r of server.requests) {
      expect(Math.ceil(promptChars(r) / 4) + (r.maxTokens ?? 0), `${r.model} request`).toBeLessThanOrEqual(WINDOWS[r.model]!);
    }
    const chats = server.requests.filter((r) => !isSummaryRequest(r));
    expect(chats).toHaveLength(turns + 1);
    for (const [i, r] of chats.entries()) {
      const text = r.messages.map((m) => m.content).join('\n');
      expect(r.messages[0]!.role).toBe('system');
      expect(r.messages[0]!.content.startsWith(SYSTEM)).toBe(true);
      expect(text).toContain(INSTRUCTION);
      expect(r.messages.at(-1)).toEqual({ role: 'user', content: i === 0 ? INSTRUCTION : question(i - 1) });
    }
    // The small window compressed early; the large one sent everything while it fitted, and compressed late.
    const small = chats.filter((r) => r.model === 'small-2k').slice(1);
    const big = chats.filter((r) => r.model === 'big-32k');
    expect(small.every((r) => r.messages[0]!.content.includes('Summary of the earlier conversation'))).toBe(true);
    expect(big[2]!.messages).toHaveLength(1 + 2 + 2 * 4 + 1); // system, instruction turn, 4 earlier turns, new question
    expect(big.at(-1)!.messages[0]!.content).toContain('Summary of the earlier conversation');
    expect(Math.max(...big.map(promptChars))).toBeGreaterThan(10 * Math.max(...small.map(promptChars)));

    // Summaries: written by the smallest loaded model, and never twice for the same span.
    const summaries = server.requests.filter(isSummaryRequest);
    expect(summaries.length).toBeGreaterThan(0);
    expect(summaries.every((r) => r.model === 'small-2k')).toBe(true);
    expect(new Set(summaries.map((r) => r.messages.at(-1)!.content)).size).toBe(summaries.length);
    // Each summary builds on the last one: every message is fed to a summariser at most once.
    const fed = summaries.flatMap((r) => r.messages.at(-1)!.content.split('\n').filter((l) => /^(User|Assistant): /.test(l)));
    expect(fed.length).toBeGreaterThan(0);
    expect(new Set(fed).size).toBe(fed.length);
    expect(fed.length).toBeLessThanOrEqual(2 + 2 * turns);
    expect(small.some((r) => r.messages[0]!.content.includes('Résumé par small-2k'))).toBe(true);

    // The stored history has every original message, with who wrote it and its token count.
    expect(stored.messages).toHaveLength(1 + 2 + 2 * turns);
    expect(stored.messages.map((m) => m.text).slice(0, 2)).toEqual([SYSTEM, INSTRUCTION]);
    expect(stored.messages[1]!.permanent).toBe(true);
    for (let i = 0; i < turns; i++) {
      const [q, a] = [stored.messages[3 + 2 * i]!, stored.messages[4 + 2 * i]!];
      expect(q).toMatchObject({ role: 'user', text: question(i) });
      expect(a).toMatchObject({ role: 'assistant', model: i % 2 === 0 ? 'big-32k' : 'small-2k' });
      expect(a.text.startsWith(`Réponse de ${a.model}`)).toBe(true);
      expect(q.tokens?.estimate).toBeGreaterThan(0);
    }
  }, 120_000);

  it('stores nothing for a cancelled turn or a failed one', async () => {
    server.models.set('slow', { id: 'slow', reply: 'This answer is streamed slowly, piece by piece.', chunks: 8, chunkDelayMs: 150 });
    server.models.set('broken', { id: 'broken', behaviour: { kind: 'status', status: 500 } });
    const { mai } = await createTestMai(dir.path, config(server.baseURL));
    const first = await mai.chat({ message: 'hello', model: 'big-32k' });
    const file = join(dir.path, 'state', 'conversations', `${first.conversationId}.jsonl`);
    const before = await readFile(file, 'utf8');

    const controller = new AbortController();
    const cancelled = await mai
      .chat({ message: 'cancel me', conversationId: first.conversationId, model: 'slow' }, {
        signal: controller.signal,
        onEvent: (e) => e.kind === 'delta' && controller.abort(),
      })
      .catch((e: unknown) => e);
    expect(cancelled).toBeInstanceOf(MaiError);
    expect((cancelled as MaiError).code).toBe(ErrorCodes.cancelled);

    const failed = await mai.chat({ message: 'fail me', conversationId: first.conversationId, model: 'broken' }).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(MaiError);
    expect(await readFile(file, 'utf8')).toBe(before);

    // The conversation goes on from where it was.
    await mai.chat({ message: 'still there?', conversationId: first.conversationId, model: 'big-32k' });
    const conversation = await mai.getConversation(first.conversationId);
    await mai.close();
    expect(conversation.messages.map((m) => m.text).filter((_, i) => i % 2 === 0)).toEqual(['hello', 'still there?']);
    expect(server.requests.at(-1)!.messages.map((m) => m.content)).toEqual(['hello', `Réponse de big-32k à « hello »: ${ANSWER}`, 'still there?']);
  }, 60_000);
});
