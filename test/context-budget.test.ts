/**
 * The prompt builder: for any history and any window the prompt fits the budget and keeps the
 * system prompt, every standing instruction and the latest message (fast-check, counted by the
 * estimate and by a real tokenizer); below the threshold the history goes as it is; above it older
 * turns are replaced by a summary while the latest turns stay whole; what cannot fit is a clear,
 * retryable context-overflow.
 */
import fc from 'fast-check';
import { countTokens as cl100k } from 'gpt-tokenizer/encoding/cl100k_base';
import { describe, expect, it } from 'vitest';
import { toCatalogModel } from '../core/catalog.ts';
import { budgetFor, buildPrompt, type SpanRequest, type SpanSummariser } from '../core/context/budget.ts';
import { digest } from '../core/context/digest.ts';
import { permanentText } from '../core/context/instructions.ts';
import type { StoredMessage } from '../core/context/message.ts';
import { SummaryCache } from '../core/context/summary-cache.ts';
import { estimateTokens, PER_MESSAGE_OVERHEAD } from '../core/context/tokens.ts';
import { ErrorCodes, MaiError } from '../core/errors.ts';

const at = '2025-01-01T00:00:00.000Z';
const model = (contextLength: number) => toCatalogModel('test', { id: `m${contextLength}`, loaded: true, contextLength }, undefined);
const estimate = async (text: string) => estimateTokens(text);
const real = async (text: string) => cl100k(text);

/** The rule-based summariser, counting how often it is asked. */
function digestSummariser(): SpanSummariser & { calls: SpanRequest[] } {
  const calls: SpanRequest[] = [];
  return {
    calls,
    cached: () => undefined,
    async summarise(r) {
      calls.push(r);
      return { text: digest(r.messages.slice(0, r.turns[r.k - 1]!.end), r.maxTokens), by: 'digest', cached: false };
    },
  };
}

function input(history: StoredMessage[], contextLength: number, overrides: Partial<Parameters<typeof buildPrompt>[0]> = {}) {
  return {
    conversationId: 'c',
    history,
    model: model(contextLength),
    maxTokens: 256,
    marginTokens: 16,
    compressAt: 0.7,
    keepRecentTurns: 2,
    summaryTokens: 200,
    count: estimate,
    summariser: digestSummariser(),
    signal: new AbortController().signal,
    ...overrides,
  };
}

const user = (text: string, extra: Partial<StoredMessage> = {}): StoredMessage => ({ role: 'user', text, at, ...extra });
const assistant = (text: string): StoredMessage => ({ role: 'assistant', text, at, model: 'm' });

describe('the prompt for any history and any window (property)', () => {
  const text = fc.oneof(
    fc.lorem({ maxCount: 200 }),
    fc.string({ maxLength: 300 }),
    fc.string({ unit: 'grapheme', maxLength: 200 }),
    fc.constantFrom('', 'ok', '{"a": [1, 2, 3]}', 'function f(x) {\n  return x * 2;\n}', '日本語のテキストです。', 'Привет! 😀'),
  );
  const message = fc.record({
    role: fc.constantFrom('user', 'assistant', 'assistant', 'system') as fc.Arbitrary<StoredMessage['role']>,
    text,
    permanent: fc.boolean().map((b) => (b ? true : undefined)),
    instruction: fc.option(fc.lorem({ maxCount: 8 }), { nil: undefined, freq: 8 }),
  });
  const history = fc
    .tuple(fc.oneof(fc.array(message, { maxLength: 6 }), fc.array(message, { minLength: 20, maxLength: 80 })), text)
    .map(([messages, last]) => [
      ...messages.map((m) => {
        const { permanent, instruction, ...rest } = m;
        return {
          ...rest,
          // An instruction is a sentence of its message.
          ...(instruction && m.role === 'user' ? { text: `${m.text} ${instruction}` } : {}),
          at,
          ...(permanent && m.role !== 'assistant' && Math.random() < 0.3 ? { permanent: true as const } : {}),
          ...(instruction && m.role === 'user' ? { instruction } : {}),
        } as StoredMessage;
      }),
      { role: 'user' as const, text: last, at },
    ]);

  it('fits the budget and keeps the system prompt, every instruction and the latest message — or says it cannot', async () => {
    const seen = { whole: 0, summarised: 0, leftOut: 0, overflow: 0 };
    await fc.assert(
      fc.asyncProperty(
        history,
        fc.oneof(fc.integer({ min: 48, max: 1_024 }), fc.integer({ min: 1_024, max: 8_192 }), fc.integer({ min: 8_192, max: 131_072 })),
        fc.integer({ min: 1, max: 4_096 }),
        fc.integer({ min: 0, max: 64 }),
        fc.double({ min: 0.05, max: 1, noNaN: true }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 800 }),
        fc.constantFrom('estimate', 'cl100k'),
        async (history, window, maxTokens, margin, compressAt, keepRecentTurns, summaryTokens, tokenizer) => {
          const count = tokenizer === 'estimate' ? estimate : real;
          const { budget, maxTokens: reply } = budgetFor(window, maxTokens, margin);
          const system = history.findLast((m) => m.role === 'system');
          const conv = history.filter((m) => m.role !== 'system');
          const latest = conv.at(-1)!;
          const must = conv.slice(0, -1).flatMap((m) => permanentText(m) ?? []);
          try {
            const prompt = await buildPrompt(
              input(history, window, { maxTokens, marginTokens: margin, compressAt, keepRecentTurns, summaryTokens, count }),
            );
            let recount = 0;
            for (const m of prompt.messages) recount += (await count(m.content)) + PER_MESSAGE_OVERHEAD;
            expect(recount).toBe(prompt.promptTokens);
            expect(prompt.promptTokens).toBeLessThanOrEqual(budget);
            expect(prompt.maxTokens).toBe(reply);
            expect(prompt.promptTokens + prompt.maxTokens).toBeLessThanOrEqual(window);
            expect(prompt.messages.at(-1)).toEqual({ role: 'user', content: latest.text });
            const all = prompt.messages.map((m) => m.content);
            if (system?.text) expect(prompt.messages[0]!.role === 'system' && prompt.messages[0]!.content.startsWith(system.text)).toBe(true);
            for (const t of must) expect(all.some((c) => c.includes(t)), `instruction "${t}" kept`).toBe(true);
            expect(prompt.messages.filter((m) => m.role === 'system').length).toBeLessThanOrEqual(1);
            if (!prompt.compression) seen.whole++;
            else if (prompt.compression.summaryBy) seen.summarised++;
            else seen.leftOut++;
          } catch (error) {
            seen.overflow++;
            // Only when the must-keep part alone cannot fit.
            expect(error).toBeInstanceOf(MaiError);
            expect((error as MaiError).code).toBe(ErrorCodes.contextOverflow);
            expect((error as MaiError).retryable).toBe(true);
            let mandatory = (await count(latest.text)) + PER_MESSAGE_OVERHEAD;
            if (system || must.length > 0) mandatory += (system ? await count(system.text) : 0) + PER_MESSAGE_OVERHEAD;
            for (const t of must) mandatory += await count(t);
            expect(mandatory + 40, `overflow although ${mandatory} must-keep tokens vs budget ${budget}`).toBeGreaterThan(budget);
          }
        },
      ),
      { numRuns: Number(process.env.MAI_PROPERTY_RUNS ?? 400) },
    );
    // Every path was exercised, not only the easy one.
    expect(seen.whole).toBeGreaterThan(10);
    expect(seen.summarised).toBeGreaterThan(10);
    expect(seen.leftOut).toBeGreaterThan(0);
    expect(seen.overflow).toBeGreaterThan(0);
    console.log('prompt paths taken:', seen);
  }, 120_000);
});

describe('compressing older turns', () => {
  const long = (n: number, topic: string) => `${topic}. ${'This sentence only pads the turn out to a realistic length. '.repeat(n)}`;
  const conversation = (turns: number): StoredMessage[] => {
    const h: StoredMessage[] = [{ role: 'system', text: 'You are a careful assistant.', at, permanent: true }];
    h.push(user('Always answer in French.', { permanent: true }), assistant("D'accord."));
    h.push(user(`My name is Ada and my project is called Lovelace. ${long(3, 'Context')}`), assistant(long(4, 'Noted')));
    for (let i = 0; i < turns; i++) h.push(user(long(6, `Question ${i}`)), assistant(long(8, `Answer ${i}`)));
    h.push(user('And the last question?'));
    return h;
  };

  it('sends the history as it is while it stays under compressAt of the window', async () => {
    const history = conversation(2);
    const prompt = await buildPrompt(input(history, 32_768));
    expect(prompt.compression).toBeUndefined();
    expect(prompt.messages.map((m) => m.content)).toEqual(history.map((m) => m.text));
  });

  it('past the threshold, replaces the oldest turns by a summary, keeps the latest turns whole and the instructions', async () => {
    const history = conversation(12);
    const summariser = digestSummariser();
    const prompt = await buildPrompt(input(history, 2_048, { summariser }));
    const [head, ...rest] = prompt.messages;
    expect(prompt.compression?.summaryBy).toBe('digest');
    expect(prompt.compression!.summarisedMessages).toBeGreaterThan(0);
    expect(head!.role).toBe('system');
    expect(head!.content).toContain('You are a careful assistant.');
    expect(head!.content).toContain('- Always answer in French.');
    expect(head!.content).toContain('My name is Ada'); // the digest keeps the facts the user stated
    // The latest turns are whole and in order (at least the last two answered ones), then the new question.
    const kept = rest.map((m) => m.content);
    expect(kept.length).toBeGreaterThanOrEqual(5);
    expect(kept).toEqual(history.slice(-kept.length).map((m) => m.text));
    expect(prompt.compression!.keptMessages).toBe(kept.length);
    expect(prompt.promptTokens).toBeLessThanOrEqual(Math.floor(0.7 * 2_048));
    // Compression lands well under the threshold, so the next turns can reuse the summary.
    expect(prompt.promptTokens).toBeLessThanOrEqual(Math.floor(0.7 * 2_048 * 0.75) + 10);
    expect(summariser.calls).toHaveLength(1);
  });

  it('reuses a cached summary while its span still fits, instead of summarising again', async () => {
    const cache = new SummaryCache();
    let writes = 0;
    const summariser: SpanSummariser = {
      cached: (key, max) => cache.get(key, max),
      async summarise(r) {
        writes++;
        const text = `Summary of ${r.k} turns.`;
        await cache.put('c', { key: r.keys[r.k]!, text, tokens: estimateTokens(text), by: 'small-model' });
        return { text, by: 'small-model', cached: false };
      },
    };
    let history = conversation(12);
    const first = await buildPrompt(input(history, 2_048, { summariser }));
    expect(first.compression).toMatchObject({ summaryBy: 'small-model', cachedSummary: false });
    history = [...history, assistant('Short answer.'), user('Short follow-up?')];
    const second = await buildPrompt(input(history, 2_048, { summariser }));
    expect(second.compression).toMatchObject({ summaryBy: 'small-model', cachedSummary: true });
    expect(second.compression!.summarisedMessages).toBe(first.compression!.summarisedMessages);
    expect(writes).toBe(1);
  });

  it('keeps the latest system prompt only, first, when the client changed it', async () => {
    const history: StoredMessage[] = [
      { role: 'system', text: 'Old system prompt.', at, permanent: true },
      user('hi'),
      assistant('hello'),
      { role: 'system', text: 'New system prompt.', at, permanent: true },
      user('again'),
    ];
    const prompt = await buildPrompt(input(history, 4_096));
    expect(prompt.messages).toEqual([
      { role: 'system', content: 'New system prompt.' },
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'hello' },
      { role: 'user', content: 'again' },
    ]);
  });

  it('lifts the instruction out of a long message that was compressed away', async () => {
    const history = conversation(12);
    history[3] = user(`${long(10, 'Here is a lot of context about my code')} From now on, use metric units.`, {
      instruction: 'From now on, use metric units.',
    });
    const prompt = await buildPrompt(input(history, 2_048));
    expect(prompt.messages[0]!.content).toContain('- From now on, use metric units.');
    expect(prompt.compression!.instructionsKept).toBe(2);
  });

  it('refuses with a retryable context-overflow when the new message alone cannot fit', async () => {
    const history = [user('x '.repeat(5_000))];
    const error = await buildPrompt(input(history, 1_024)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MaiError);
    expect((error as MaiError).code).toBe(ErrorCodes.contextOverflow);
    expect((error as MaiError).retryable).toBe(true);
    expect((error as MaiError).message).toMatch(/m1024's window \(1024 tokens\) cannot hold this turn/);
  });

  it('gives a small window a reply of at most half of it', () => {
    expect(budgetFor(2_048, 4_096, 32)).toEqual({ budget: 2_048 - 1_024 - 32, maxTokens: 1_024 });
    expect(budgetFor(32_768, 512, 32)).toEqual({ budget: 32_768 - 512 - 32, maxTokens: 512 });
  });
});
