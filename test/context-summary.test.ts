/**
 * The summariser against a real loopback server: the smallest free loaded model writes the summary;
 * it is cached (in memory and on disk, so a restart does not pay for it again); input too large for
 * the summarising model's window is fed in pieces, each building on the last; a failing or hanging
 * model, or none loaded, gives the rule-based digest; the `digest` strategy never calls a model.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { toCatalogModel } from '../core/catalog.ts';
import { buildPrompt } from '../core/context/budget.ts';
import type { StoredMessage } from '../core/context/message.ts';
import { SummaryCache } from '../core/context/summary-cache.ts';
import { Summariser } from '../core/context/summariser.ts';
import { TokenCounter } from '../core/context/token-counter.ts';
import type { ContextConfig } from '../core/config/schema.ts';
import type { CatalogModel } from '../core/types.ts';
import { OpenAIBackend, OpenAIBackendOptions } from '../plugins/backends/openai.ts';
import { startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';
import { collectGarbage } from './support/gc.ts';
import { tempDir, type TempDir } from './support/harness.ts';

const at = '2025-01-01T00:00:00.000Z';
const isSummary = (messages: Array<{ content: string }>) => messages[0]?.content.startsWith('You condense a conversation') ?? false;

function conversation(turns: number): StoredMessage[] {
  const h: StoredMessage[] = [{ role: 'system', text: 'You help with travel plans.', at, permanent: true }];
  for (let i = 0; i < turns; i++) {
    h.push({ role: 'user', text: `Trip ${i}: I want to visit city number ${i} in spring. ${'Tell me about museums, food and trains. '.repeat(8)}`, at });
    h.push({ role: 'assistant', text: `For city ${i}: ${'There are good museums, local food and fast trains. '.repeat(10)}`, at, model: 'x' });
  }
  h.push({ role: 'user', text: 'Which trip should I take first?', at });
  return h;
}

describe('who writes the summary', () => {
  let server: FakeOpenAIServer;
  let dir: TempDir;
  let backend: OpenAIBackend;
  const model = (id: string, contextLength: number, tier: CatalogModel['tier'], loaded = true) =>
    toCatalogModel('loop', { id, loaded, contextLength, tier }, undefined);

  beforeEach(async () => {
    const summary = (id: string) => (messages: Array<{ role: string; content: string }>) =>
      isSummary(messages) ? `Summary by ${id}: ${messages.at(-1)!.content.split('\n').filter((l) => l.startsWith('User:')).length} user messages.` : 'answer';
    server = await startOpenAIServer([
      { id: 'tiny', contextLength: 1_024, reply: summary('tiny') },
      { id: 'medium', contextLength: 8_192, reply: summary('medium') },
      { id: 'large', contextLength: 32_768, reply: summary('large') },
      { id: 'broken', contextLength: 8_192, behaviour: { kind: 'status', status: 500 } },
      // Never answers; a garbage collection runs while the summariser waits, as one does in a busy
      // suite (a time limit that a collection loses left this request hanging until the test timed out).
      { id: 'hanging', contextLength: 8_192, hold: () => (collectGarbage(), new Promise<void>(() => {})) },
    ]);
    backend = new OpenAIBackend('loop', OpenAIBackendOptions.parse({ baseURL: server.baseURL, llamaCppExtras: false }), undefined);
    dir = await tempDir();
  });
  afterEach(async () => {
    await server.close();
    await dir.cleanup();
  });

  function setup(models: CatalogModel[], strategy: ContextConfig['summary'] = 'auto', timeoutMs = 10_000) {
    const cache = new SummaryCache({ fileOf: (id) => join(dir.path, 'summaries', `${id}.jsonl`) });
    const summariser = new Summariser({
      strategy,
      timeoutMs,
      marginTokens: 16,
      models: () => models,
      backendOf: () => backend,
      cache,
      counter: new TokenCounter({ backendOf: () => backend }),
    });
    const prompt = (history: StoredMessage[], answering: CatalogModel) =>
      buildPrompt({
        conversationId: 'conv',
        history,
        model: answering,
        maxTokens: 256,
        marginTokens: 16,
        compressAt: 0.7,
        keepRecentTurns: 2,
        summaryTokens: 200,
        count: async (t) => (await new TokenCounter({ backendOf: () => backend }).for(answering).count(t)),
        summariser,
        signal: new AbortController().signal,
      });
    return { cache, summariser, prompt };
  }
  const summaryRequests = () => server.requests.filter((r) => isSummary(r.messages));

  it('asks the smallest loaded model, caches the summary, and reuses it after a restart', async () => {
    const models = [model('large', 32_768, 'large'), model('medium', 8_192, 'medium'), model('unloaded-small', 8_192, 'small', false)];
    const answering = model('large', 2_048, 'large');
    const { prompt } = setup(models);
    const history = conversation(8);
    const first = await prompt(history, answering);
    expect(first.compression).toMatchObject({ summaryBy: 'medium', cachedSummary: false });
    expect(first.messages[0]!.content).toContain('Summary by medium:');
    expect(summaryRequests().every((r) => r.model === 'medium')).toBe(true);
    const asked = summaryRequests().length;

    const again = await prompt(history, answering);
    expect(again.compression).toMatchObject({ summaryBy: 'medium', cachedSummary: true });
    // A new process: a fresh cache reads the summaries saved beside the conversation.
    const restarted = setup(models);
    await restarted.cache.load('conv');
    const afterRestart = await restarted.prompt(history, answering);
    expect(afterRestart.compression).toMatchObject({ cachedSummary: true });
    expect(afterRestart.messages).toEqual(first.messages);
    expect(summaryRequests()).toHaveLength(asked);
  });

  it('feeds a span too large for the summarising model in pieces, each building on the last', async () => {
    const { prompt } = setup([model('tiny', 1_024, 'small')]);
    const built = await prompt(conversation(10), model('large', 2_048, 'large'));
    const requests = summaryRequests();
    expect(requests.length).toBeGreaterThan(1);
    for (const r of requests) expect(Math.ceil(r.messages.reduce((n, m) => n + m.content.length, 0) / 4) + (r.maxTokens ?? 0)).toBeLessThanOrEqual(1_024);
    expect(requests[0]!.messages[1]!.content).not.toContain('Summary so far');
    for (const r of requests.slice(1)) expect(r.messages[1]!.content).toMatch(/^Summary so far:\nSummary by tiny: \d+ user messages\.\n\nConversation since then:\n/);
    // Every summarised user message was fed exactly once.
    const fed = requests.flatMap((r) => r.messages[1]!.content.split('\n').filter((l) => l.startsWith('User: ')));
    expect(new Set(fed).size).toBe(fed.length);
    expect(fed).toHaveLength(built.compression!.summarisedMessages / 2);
    expect(built.compression?.summaryBy).toBe('tiny');
  });

  it('uses the digest when the model fails, hangs past the time limit, or none is loaded', async () => {
    const answering = model('large', 2_048, 'large');
    for (const [models, timeoutMs] of [
      [[model('broken', 8_192, 'small')], 10_000],
      [[model('hanging', 8_192, 'small')], 300],
      [[model('medium', 8_192, 'small', false)], 10_000],
    ] as const) {
      const { prompt } = setup([...models], 'auto', timeoutMs);
      const built = await prompt(conversation(8), answering);
      expect(built.compression?.summaryBy).toBe('digest');
      expect(built.messages[0]!.content).toContain('User: Trip 0: I want to visit city number 0 in spring.');
    }
    expect(summaryRequests().map((r) => r.model)).toEqual(['broken', 'hanging']);
  });

  it('with the digest strategy, never calls a model', async () => {
    const { prompt } = setup([model('medium', 8_192, 'small')], 'digest');
    const built = await prompt(conversation(8), model('large', 2_048, 'large'));
    expect(built.compression?.summaryBy).toBe('digest');
    expect(server.requests).toHaveLength(0);
  });

  it('with the model strategy, has the answering model write it when no other is free', async () => {
    const answering = model('large', 32_768, 'large');
    const { prompt } = setup([model('medium', 8_192, 'small', false)], 'model');
    const built = await prompt(conversation(40), { ...answering, contextLength: 2_048 });
    expect(built.compression?.summaryBy).toBe('large');
  });
});
