/**
 * Rotation keeps the bound: past maxFileBytes the file becomes ledger.1.jsonl and the oldest past
 * maxFiles is deleted — also with two writers (two Mai processes) sharing the folder, where every
 * line still lands whole. And through Mai: ledger.maxFileMb / maxFiles from the config, each
 * ledger file rotated with its stats file.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LedgerWriter } from '../core/ledger/ledger-writer.ts';
import { computeStats } from '../core/ledger/stats.ts';
import { createLogger } from '../core/log.ts';
import { createTestMai, tempDir, type TempDir } from './support/harness.ts';
import { startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';

const log = createLogger('test', 'silent');

async function linesOf(dir: string): Promise<Map<string, string[]>> {
  const files = new Map<string, string[]>();
  for (const name of (await readdir(dir)).sort()) files.set(name, (await readFile(join(dir, name), 'utf8')).split('\n').filter(Boolean));
  return files;
}

describe('ledger rotation', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir('mai-rotate-');
  });
  afterEach(async () => dir.cleanup());

  it('keeps at most maxFiles files of at most maxFileBytes, the newest lines in order', async () => {
    const folder = join(dir.path, 'ledger');
    const writer = new LedgerWriter({ dir: folder, maxFileBytes: 1000, maxFiles: 4, log });
    const line = (i: number) => JSON.stringify({ t: i, pad: 'x'.repeat(80) }); // ~100 bytes
    for (let i = 0; i < 500; i++) {
      writer.write(line(i));
      if (i % 7 === 0) await writer.flush(); // batches of different sizes
    }
    await writer.close();
    const files = await linesOf(folder);
    expect([...files.keys()]).toEqual(['ledger.1.jsonl', 'ledger.2.jsonl', 'ledger.3.jsonl', 'ledger.jsonl']);
    for (const name of files.keys()) expect((await stat(join(folder, name))).size).toBeLessThanOrEqual(1000);
    // Oldest file first, each line whole, and together the newest lines without a gap.
    const kept = ['ledger.3.jsonl', 'ledger.2.jsonl', 'ledger.1.jsonl', 'ledger.jsonl'].flatMap((n) => files.get(n)!).map((l) => (JSON.parse(l) as { t: number }).t);
    expect(kept.at(-1)).toBe(499);
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => 500 - kept.length + i));
    expect(kept.length).toBeGreaterThan(25);
  });

  it('two writers sharing the folder (two Mai processes) keep the bound and every line whole', async () => {
    const folder = join(dir.path, 'ledger');
    const writers = [0, 1].map(() => new LedgerWriter({ dir: folder, maxFileBytes: 2000, maxFiles: 3, log }));
    for (let i = 0; i < 400; i++) {
      writers[i % 2]!.write(JSON.stringify({ t: i, w: i % 2, pad: 'y'.repeat(60) }));
      if (i % 5 === 0) await Promise.all(writers.map((w) => w.flush()));
    }
    await Promise.all(writers.map((w) => w.close()));
    const files = await linesOf(folder);
    expect(files.size).toBeLessThanOrEqual(3);
    expect([...files.keys()].every((n) => /^ledger(\.\d)?\.jsonl$/.test(n))).toBe(true); // no claim left behind
    for (const lines of files.values()) for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
    expect(files.get('ledger.jsonl')!.map((l) => (JSON.parse(l) as { t: number }).t)).toContain(399);
  });

  it('through Mai: ledger.maxFileMb and ledger.maxFiles from the config', async () => {
    const server: FakeOpenAIServer = await startOpenAIServer([{ id: 'solo', reply: 'Fine.' }]);
    const { mai } = await createTestMai(
      dir.path,
      `backends:
  - use: openai
    options: { baseURL: ${server.baseURL}, llamaCppExtras: false }
scorers: [{ use: resource-fit }]
ledger: { maxFileMb: 0.002, maxFiles: 2 }
context: { stateDir: ./state, summary: digest }
`,
    );
    try {
      for (let i = 0; i < 12; i++) await mai.chat({ message: `Turn ${i}.` });
    } finally {
      await mai.close();
      await server.close();
    }
    const folder = join(dir.path, 'state', 'ledger');
    const files = await linesOf(folder);
    // Each ledger file with its stats file beside it, rotated together, a stats line per ledger line.
    expect([...files.keys()]).toEqual(['ledger.1.jsonl', 'ledger.1.stats', 'ledger.jsonl', 'ledger.stats']);
    for (const name of ['ledger.1.jsonl', 'ledger.jsonl']) expect((await stat(join(folder, name))).size).toBeLessThanOrEqual(0.002 * 1024 * 1024);
    expect(files.get('ledger.1.stats')).toHaveLength(files.get('ledger.1.jsonl')!.length);
    expect(files.get('ledger.stats')).toHaveLength(files.get('ledger.jsonl')!.length);
    const kept = files.get('ledger.1.jsonl')!.length + files.get('ledger.jsonl')!.length;
    expect(kept).toBeLessThan(12);
    // Both files are read through their stats files, and count every turn kept.
    const s = await computeStats({ dir: folder, maxFiles: 2, since: Date.now() - 3_600_000 });
    expect(s.ledger).toMatchObject({ files: 2, fromStatsFiles: 2, lines: kept, unreadable: 0 });
  });
});
