/**
 * The stats file beside each ledger file (core/ledger/stats-line.ts): `mai stats` reads it instead
 * of the ledger when its lines add up to the ledger file, with the very same figures; a stats file
 * that is torn, corrupt, short of a line, holds one too many or is missing is noticed, and the
 * ledger itself is read — the figures stay the same.
 */
import { appendFile, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LedgerWriter } from '../core/ledger/ledger-writer.ts';
import type { LedgerRecord } from '../core/ledger/record.ts';
import { computeStats, type StatsReport } from '../core/ledger/stats.ts';
import { parseStatsLine, statsLine } from '../core/ledger/stats-line.ts';
import { StatsLineDecoder } from '../core/ledger/stats-line-decode.ts';
import { createLogger } from '../core/log.ts';
import type { AttemptSummary } from '../core/observe/turn-summary.ts';
import { tempDir, type TempDir } from './support/harness.ts';

const now = Date.now();
const MIN = 60_000;

function record(i: number): LedgerRecord {
  const t = now - (200 - i) * MIN; // 200 minutes back up to now, one a minute
  const failed = i % 9 === 0;
  const cancelled = i % 23 === 0;
  const model = i % 3 === 0 ? 'small' : 'big';
  const answer: AttemptSummary = { model, backend: model === 'big' ? 'a' : 'b', ok: true, queueMs: i % 5, ttftMs: 50 + i, ms: 400 + i, tokensPerSecond: 10 + (i % 17) };
  const attempts: AttemptSummary[] = cancelled
    ? [{ model, backend: answer.backend, ok: false, error: 'cancelled', queueMs: 1 }]
    : failed
      ? [{ model: 'big', backend: 'a', ok: false, error: 'unreachable', queueMs: 0 }, { ...answer, model: 'small', backend: 'b' }]
      : [answer];
  return {
    t,
    v: 1,
    outcome: cancelled ? 'cancelled' : 'ok',
    model: cancelled ? null : attempts.at(-1)!.model,
    attempts,
    fallbacks: failed && !cancelled ? [{ from: 'big', to: 'small' }] : [],
    switch: failed && !cancelled ? { from: 'big', to: 'small' } : null,
    up: failed ? ['b'] : ['a', 'b'],
    down: failed ? ['a'] : [],
    turn: `turn-${i}`,
    at: new Date(t).toISOString(),
    conversation: `c${i % 4}`,
    chosen: { model: 'big', backend: 'a', reason: 'best — “quoted”, ünïcode' },
    ranking: [{ model: 'big', score: 0.9, fits: true, scores: { 'resource-fit': 0.9 } }],
    queueMs: 0,
    loadMs: 0,
    ttftMs: null,
    ms: 500,
    tokens: { in: 10, out: 5 },
    tokensPerSecond: null,
    context: null,
    compressed: null,
  };
}

describe('the stats file beside the ledger', () => {
  let dir: TempDir;
  let ledger: string;
  const stats = (since = now - 24 * 60 * MIN): Promise<StatsReport> => computeStats({ dir: ledger, maxFiles: 5, since, until: now + MIN });
  /** The figures without how the files were read. */
  const figures = (s: StatsReport) => ({ ...s, ledger: { ...s.ledger, fromStatsFiles: 0 } });

  beforeEach(async () => {
    dir = await tempDir('mai-stats-file-');
    ledger = join(dir.path, 'ledger');
    // As the Ledger writes: each line and its stats line, through the writer, in batches.
    const writer = new LedgerWriter({ dir: ledger, maxFileBytes: 100 * 1024, maxFiles: 5, log: createLogger('test', 'silent') });
    for (let i = 0; i < 200; i++) {
      const line = JSON.stringify(record(i));
      writer.write(line, statsLine(record(i), Buffer.byteLength(line) + 1));
      if (i % 13 === 0) await writer.flush();
    }
    await writer.close();
  });
  afterEach(async () => dir.cleanup());

  /** The same figures with every stats file gone (the ledger read line by line). */
  async function fromLedgerOnly(since?: number): Promise<StatsReport> {
    const copy = await tempDir('mai-stats-copy-');
    try {
      for (const name of ['ledger.jsonl', 'ledger.1.jsonl']) await writeFile(join(copy.path, name), await readFile(join(ledger, name)));
      return await computeStats({ dir: copy.path, maxFiles: 5, since: since ?? now - 24 * 60 * MIN, until: now + MIN });
    } finally {
      await copy.cleanup();
    }
  }

  it('is read instead of the ledger, with the same figures, over any window', async () => {
    const whole = await stats();
    expect(whole.ledger).toMatchObject({ files: 2, fromStatsFiles: 2, lines: 200, unreadable: 0 });
    const reference = await fromLedgerOnly();
    expect(reference.ledger.fromStatsFiles).toBe(0);
    expect(figures(whole)).toEqual({ ...figures(reference), ledger: { ...reference.ledger, dir: ledger } });
    for (const minutes of [30, 90, 150]) {
      const since = now - minutes * MIN;
      const windowed = await stats(since);
      expect(windowed.turns.total).toBe(minutes);
      const plain = await fromLedgerOnly(since);
      expect(figures(windowed)).toEqual({ ...figures(plain), ledger: { ...plain.ledger, dir: ledger } });
    }
  });

  it('a stats line is the ledger line’s stats fields, and back', () => {
    const r = record(9); // a fallback after an unreachable backend
    // Of each attempt all but its duration and load time (stats reads neither).
    const attempts = r.attempts.map((a) => {
      const kept = { ...a };
      delete kept.ms;
      delete kept.loadMs;
      return kept;
    });
    expect(parseStatsLine(statsLine(r, 123))).toEqual({ t: r.t, outcome: r.outcome, model: r.model, attempts, fallbacks: r.fallbacks, switch: true, up: r.up, down: r.down });
    // The byte decoder stats uses gives the same, for plain names and for those it hands to JSON.parse.
    const decoder = new StatsLineDecoder();
    const odd = { ...r, model: 'qwén "7b"', attempts: [{ model: 'qwén "7b"', backend: 'a\\b', ok: true, queueMs: 0.1, ttftMs: 1e-7, tokensPerSecond: 12.25 }] };
    for (const x of [r, r, odd]) {
      const text = statsLine(x, 99);
      expect(decoder.decode(Buffer.from(`junk${text}`), 4, 4 + Buffer.byteLength(text))).toEqual(parseStatsLine(text));
    }
    expect(() => decoder.decode(Buffer.from('[1,2,"ok",null,[],[],0,[],[]]x'), 0, 30)).toThrow();
    expect(() => parseStatsLine('[1,2,"maybe",null,[],[],0,[],[]]')).toThrow();
    expect(() => parseStatsLine('{"t":1}')).toThrow();
  });

  const damages: Array<[string, (file: string) => Promise<void>]> = [
    ['torn at its end', async (file) => truncate(file, (await readFile(file)).length - 7)],
    ['a corrupt line', async (file) => writeFile(file, (await readFile(file, 'utf8')).replace(/"big","a",1/, '"big","a",1}{'))],
    ['a line short', async (file) => writeFile(file, (await readFile(file, 'utf8')).split('\n').slice(1).join('\n'))],
    ['a line too many', async (file) => appendFile(file, `${statsLine(record(150), 700)}\n`)],
    ['missing', async (file) => rm(file)],
  ];
  for (const [name, damage] of damages) {
    it(`${name}: the ledger file is read instead, the figures unchanged`, async () => {
      const before = await stats();
      await damage(join(ledger, 'ledger.stats'));
      const after = await stats();
      expect(after.ledger).toMatchObject({ files: 2, fromStatsFiles: 1 }); // only ledger.1.stats is still whole
      expect(figures(after)).toEqual(figures(before));
    });
  }

  it('a ledger line torn by a crash: the ledger is read, the torn line counted unreadable', async () => {
    const file = join(ledger, 'ledger.jsonl');
    await appendFile(file, `{"t":${now - MIN},"v":1,"outcome":"ok","attem`);
    const s = await stats();
    expect(s.ledger).toMatchObject({ files: 2, fromStatsFiles: 1, lines: 200, unreadable: 1 });
  });
});
