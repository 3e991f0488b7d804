/**
 * Token counting: the estimate measured against real tokenizers (gpt-tokenizer's cl100k, o200k and
 * GPT-2's r50k) over a varied corpus of real text, and the counter using a backend's own tokenizer
 * (a real llama.cpp-style /tokenize endpoint on loopback), cached, falling back to the estimate.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { countTokens as cl100k } from 'gpt-tokenizer/encoding/cl100k_base';
import { countTokens as o200k } from 'gpt-tokenizer/encoding/o200k_base';
import { countTokens as r50k } from 'gpt-tokenizer/encoding/r50k_base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toCatalogModel } from '../core/catalog.ts';
import { ESTIMATE, TokenCounter } from '../core/context/token-counter.ts';
import { estimateTokens, fitTokens } from '../core/context/tokens.ts';
import { OpenAIBackend, OpenAIBackendOptions } from '../plugins/backends/openai.ts';
import { tokenCorpus } from './support/token-corpus.ts';

interface Row {
  category: string;
  samples: number;
  min: number;
  mean: number;
  max: number;
  under: number;
}

/**
 * Each sample's estimate ÷ real count, by category and for the whole corpus ('all'). `estimates` and
 * `counts` are in corpus order: each sample is estimated once and tokenised once per tokenizer, not
 * again for its category and for 'all' (tokenising is most of this file's CPU time).
 */
function measure(counts: readonly number[], estimates: readonly number[], samples: ReturnType<typeof tokenCorpus>): Row[] {
  const categories = [...new Set(samples.map((s) => s.category)), 'all'];
  const all = samples.map((s, i) => ({ category: s.category, ratio: estimates[i]! / counts[i]! }));
  return categories.map((category) => {
    const ratios = all.filter((s) => category === 'all' || s.category === category).map((s) => s.ratio);
    return {
      category,
      samples: ratios.length,
      min: Math.min(...ratios),
      mean: ratios.reduce((a, b) => a + b, 0) / ratios.length,
      max: Math.max(...ratios),
      under: ratios.filter((r) => r < 1).length,
    };
  });
}

const fmt = (rows: Row[]) =>
  rows.map((r) => `  ${r.category.padEnd(32)} n=${String(r.samples).padStart(3)}  min ×${r.min.toFixed(2)}  mean ×${r.mean.toFixed(2)}  max ×${r.max.toFixed(2)}  under: ${r.under}`).join('\n');

describe('the token estimate against real tokenizers', () => {
  const corpus = tokenCorpus();

  it('has a varied corpus of real text', () => {
    const categories = new Set(corpus.map((s) => s.category));
    expect(corpus.length).toBeGreaterThan(150);
    expect([...categories]).toEqual(
      expect.arrayContaining(['English prose', 'TypeScript', 'JSON (indented)', 'JSON (compact)', 'Cyrillic', 'Chinese, Japanese', 'Korean']),
    );
  });

  it('never counts fewer tokens than cl100k or o200k, and overshoots by about a quarter on average', () => {
    const report: string[] = [];
    let cl100kCounts: number[] = [];
    const estimates = corpus.map((s) => estimateTokens(s.text));
    for (const [name, count] of [['cl100k_base', cl100k], ['o200k_base', o200k], ['r50k_base (GPT-2)', r50k]] as const) {
      const counts = corpus.map((s) => count(s.text));
      if (name === 'cl100k_base') cl100kCounts = counts;
      const rows = measure(counts, estimates, corpus);
      report.push(`${name}: estimate ÷ real tokens\n${fmt(rows)}`);
      if (name === 'r50k_base (GPT-2)') continue; // reported only: an old 50k vocabulary, see the README
      const all = rows.find((r) => r.category === 'all')!;
      expect(all.under, `${name} counted more than the estimate on ${all.under} samples`).toBe(0);
      expect(all.min).toBeGreaterThanOrEqual(1);
      expect(all.mean).toBeLessThan(1.45);
      for (const row of rows) expect(row.mean, `${name} ${row.category}`).toBeLessThan(2.1);
    }
    const naive = measure(cl100kCounts, corpus.map((s) => Math.ceil(Buffer.byteLength(s.text) / 3)), corpus).find((r) => r.category === 'all')!;
    report.push(`baseline bytes÷3 vs cl100k_base: min ×${naive.min.toFixed(2)} mean ×${naive.mean.toFixed(2)} under: ${naive.under}`);
    console.log(report.join('\n\n'));
    // The estimate beats the byte-count rule of thumb it replaced, which undercounts CJK and JSON.
    expect(naive.under).toBeGreaterThan(0);
  });

  it('cuts text to a token allowance without splitting a character', () => {
    const text = 'Résumé 😀 '.repeat(200);
    const cut = fitTokens(text, 50);
    expect(estimateTokens(cut)).toBeLessThanOrEqual(50);
    expect(cut.endsWith('…')).toBe(true);
    expect(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/.test(cut)).toBe(false); // no half of a surrogate pair
    expect(fitTokens('short', 50)).toBe('short');
  });
});

/** A llama.cpp-like server: /v1/models, and /tokenize counting with cl100k (or 404 when it has none). */
async function tokenizerServer(withTokenize: boolean): Promise<{ baseURL: string; tokenizeCalls: () => number; close: () => Promise<void> }> {
  let calls = 0;
  const server: Server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    if (req.url === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ object: 'list', data: [{ id: 'tok-model', object: 'model', created: 0, owned_by: 'test' }] }));
    }
    if (req.url === '/tokenize' && req.method === 'POST' && withTokenize) {
      calls++;
      const { content } = JSON.parse(body) as { content: string };
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ tokens: Array.from({ length: cl100k(content) }, (_, i) => i) }));
    }
    if (req.url === '/tokenize') calls++;
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: 'File Not Found', type: 'not_found_error', code: 404 } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    tokenizeCalls: () => calls,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

describe('counting with the backend tokenizer', () => {
  let withTokenizer: Awaited<ReturnType<typeof tokenizerServer>>;
  let without: Awaited<ReturnType<typeof tokenizerServer>>;
  beforeAll(async () => {
    withTokenizer = await tokenizerServer(true);
    without = await tokenizerServer(false);
  });
  afterAll(async () => {
    await withTokenizer.close();
    await without.close();
  });

  const model = toCatalogModel('llama', { id: 'tok-model', loaded: true, contextLength: 4096 }, undefined);

  it('uses /tokenize when the server has it, and asks once per text', async () => {
    const backend = new OpenAIBackend('llama', OpenAIBackendOptions.parse({ baseURL: withTokenizer.baseURL }), undefined);
    const counter = new TokenCounter({ backendOf: () => backend });
    const c = counter.for(model);
    const text = 'The quick brown fox jumps over the lazy dog. Привет, мир! 你好，世界。';
    expect(await c.count(text)).toBe(cl100k(text));
    expect(c.tokenizer).toBe('tok-model');
    expect(await counter.for(model).count(text)).toBe(cl100k(text));
    expect(withTokenizer.tokenizeCalls()).toBe(1);
    expect(await c.count('another text')).toBe(cl100k('another text'));
    expect(withTokenizer.tokenizeCalls()).toBe(2);
    expect(counter.estimates(model)).toBe(false);
    // A count stored with a message is used as it is.
    counter.seed(model, 'a stored message', 7);
    expect(await c.count('a stored message')).toBe(7);
    expect(withTokenizer.tokenizeCalls()).toBe(2);
  });

  it('falls back to the estimate when the server has no /tokenize, and stops asking', async () => {
    const backend = new OpenAIBackend('plain', OpenAIBackendOptions.parse({ baseURL: without.baseURL }), undefined);
    const counter = new TokenCounter({ backendOf: () => backend });
    const c = counter.for(model);
    expect(await c.count('first text to count')).toBe(estimateTokens('first text to count'));
    expect(await c.count('second text')).toBe(estimateTokens('second text'));
    expect(await counter.for(model).count('third')).toBe(estimateTokens('third'));
    expect(without.tokenizeCalls()).toBe(1);
    expect(c.tokenizer).toBe(ESTIMATE);
    expect(counter.estimates(model)).toBe(true);
  });

  it('raises its estimate for a model whose real prompts proved larger', async () => {
    const backend = new OpenAIBackend('plain', OpenAIBackendOptions.parse({ baseURL: without.baseURL, llamaCppExtras: false }), undefined);
    const counter = new TokenCounter({ backendOf: () => backend });
    const text = 'Сколько токенов в этом предложении на самом деле?';
    const before = await counter.for(model).count(text);
    counter.observe(model, 100, 150);
    expect(await counter.for(model).count(text)).toBe(Math.ceil(estimateTokens(text) * 1.5));
    counter.observe(model, 100, 80); // smaller than estimated: the estimate is never lowered
    expect(await counter.for(model).count(text)).toBeGreaterThan(before);
  });
});
