/**
 * The per-turn ledger, read back from disk: a turn, a fallback, a failed and a cancelled turn each
 * leave the right line; the conversation's text is absent unless the config opts in; a read-only
 * state directory or a full disk never fails a turn (one warning, then the ledger pauses).
 */
import { mkdir, readFile, readdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../core/config/load.ts';
import { Mai } from '../core/mai.ts';
import { FixedMonitor } from '../core/monitor/resource-monitor.ts';
import { builtinPlugins } from '../plugins/index.ts';
import type { TurnRequest } from '../core/pipeline/turn.ts';
import { snapshot, tempDir, writeConfig, type TempDir } from './support/harness.ts';
import { keptLogger, makeReadOnly, readLedger, type KeptLog } from './support/ledger-helpers.ts';
import { startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';

const SECRET_MESSAGE = 'My bank PIN is 4711, keep it safe.';
const SYSTEM = 'You are terse.';

describe('the per-turn ledger', () => {
  let primary: FakeOpenAIServer;
  let backup: FakeOpenAIServer;
  let dir: TempDir;
  let stateDir: string;
  let mai: Mai | undefined;
  let log: KeptLog;

  beforeEach(async () => {
    primary = await startOpenAIServer([{ id: 'primary', reply: 'Primary says the secret answer.', chunks: 4 }]);
    backup = await startOpenAIServer([{ id: 'backup', reply: 'Backup says hello.', chunks: 3 }]);
    dir = await tempDir('mai-ledger-');
    stateDir = join(dir.path, 'state');
    log = keptLogger();
  });
  afterEach(async () => {
    await mai?.close();
    mai = undefined;
    await primary.close();
    await backup.close();
    await dir.cleanup();
  });

  async function start(extra = ''): Promise<Mai> {
    const file = await writeConfig(
      dir.path,
      `
backends:
  - use: openai
    name: a
    options: { baseURL: ${primary.baseURL}, llamaCppExtras: false }
  - use: openai
    name: b
    options: { baseURL: ${backup.baseURL}, llamaCppExtras: false }
models:
  - { id: primary, tier: large, contextLength: 4096 }
  - { id: backup, tier: small, contextLength: 8192 }
scorers:
  - use: resource-fit
fallback: { retries: 0, backoffMs: 0, failuresBeforeCooldown: 100, firstTokenTimeoutMs: 20000 }
switching: { minDwellMs: 0 }
monitor: { enabled: false }
context: { stateDir: ./state, summary: digest }
${extra}`,
    );
    mai = await Mai.create({ plugins: builtinPlugins, loaded: loadConfig({ flag: file }), log, createMonitor: () => new FixedMonitor(snapshot()) });
    return mai;
  }

  /** Closing Mai writes every pending line (as it does when `mai serve` ends). */
  async function closeAndRead() {
    await mai?.close();
    mai = undefined;
    return readLedger(stateDir);
  }

  it('a turn leaves one line: chosen model and why, the attempt with its timings, tokens, context against the window', async () => {
    const m = await start();
    const result = await m.chat({ message: SECRET_MESSAGE, system: SYSTEM });
    const [line, ...more] = await closeAndRead();
    expect(more).toEqual([]);
    expect(line).toMatchObject({
      v: 1,
      turn: expect.any(String),
      conversation: result.conversationId,
      outcome: 'ok',
      model: 'primary',
      chosen: { model: 'primary', backend: 'a', reason: expect.any(String) },
      attempts: [{ model: 'primary', backend: 'a', ok: true }],
      tokens: { in: result.usage.promptTokens, out: result.usage.completionTokens },
      context: { used: expect.any(Number), window: 4096 },
      compressed: null,
      fallbacks: [],
      switch: null,
      up: ['a', 'b'],
      down: [],
    });
    expect(line!.t).toBeGreaterThan(Date.now() - 60_000);
    expect(new Date(line!.at).getTime()).toBe(line!.t);
    expect(line!.client).toBeUndefined();
    expect(line!.error).toBeUndefined();
    const attempt = line!.attempts[0]!;
    for (const key of ['queueMs', 'ttftMs', 'ms', 'tokensPerSecond'] as const) expect(attempt[key]).toBeGreaterThanOrEqual(0);
    expect(line!.ttftMs).toBe(attempt.ttftMs);
    expect(line!.ms).toBeGreaterThanOrEqual(attempt.ms!);
    expect(line!.context!.used).toBeGreaterThan(0);
    // The ranking's top, with each scorer's score.
    expect(line!.ranking.map((r) => r.model)).toEqual(['primary', 'backup']);
    expect(line!.ranking[0]).toMatchObject({ fits: true, scores: { 'resource-fit': expect.any(Number) } });
    // No text of the conversation, anywhere in the file.
    const raw = await readFile(join(stateDir, 'ledger', 'ledger.jsonl'), 'utf8');
    expect(raw).not.toContain('4711');
    expect(raw).not.toContain(SYSTEM);
    expect(raw).not.toContain('secret answer');
    expect(line).not.toHaveProperty('message');
    expect(line).not.toHaveProperty('answer');
  });

  it('with ledger.content the message, system prompt and answer are written too', async () => {
    const m = await start('ledger: { content: true }');
    const result = await m.chat({ message: SECRET_MESSAGE, system: SYSTEM });
    const [line] = await closeAndRead();
    expect(line).toMatchObject({ message: SECRET_MESSAGE, system: SYSTEM, answer: result.text });
  });

  it('records the client that sent the turn, when the request names one', async () => {
    const m = await start();
    const editor = m.attachClient({ name: 'nvim' });
    await m.chat({ message: 'From the editor.', client: editor.id } as TurnRequest);
    await m.chat({ message: 'From nowhere in particular.' });
    const [first, second] = await closeAndRead();
    expect(first!.client).toBe(editor.id);
    expect(second).not.toHaveProperty('client');
  });

  it('a fallback: both attempts, the error code, the move and the switch', async () => {
    const m = await start();
    await m.chat({ message: 'First, while the primary is fine.' });
    primary.models.get('primary')!.behaviour = { kind: 'status', status: 500 };
    const result = await m.chat({ message: 'Now the primary fails.' });
    expect(result.model).toBe('backup');
    const [, line] = await closeAndRead();
    expect(line).toMatchObject({
      outcome: 'ok',
      model: 'backup',
      chosen: { model: 'primary' },
      attempts: [
        { model: 'primary', backend: 'a', ok: false, error: 'server-error' },
        { model: 'backup', backend: 'b', ok: true },
      ],
      fallbacks: [{ from: 'primary', to: 'backup' }],
      switch: { from: 'primary', to: 'backup' },
      context: { window: 8192 },
    });
    expect(line!.ttftMs).toBe(line!.attempts[1]!.ttftMs);
  });

  it('a failed turn: every attempt with its code, the turn error, no answer', async () => {
    const m = await start();
    primary.models.get('primary')!.behaviour = { kind: 'status', status: 500 };
    backup.models.get('backup')!.behaviour = { kind: 'status', status: 503 };
    await expect(m.chat({ message: 'Nobody can answer.' })).rejects.toMatchObject({ code: 'all-attempts-failed' });
    const [line] = await closeAndRead();
    expect(line).toMatchObject({
      outcome: 'failed',
      error: { code: 'all-attempts-failed' },
      model: null,
      tokens: null,
      ttftMs: null,
      attempts: [
        { model: 'primary', ok: false, error: 'server-error' },
        { model: 'backup', ok: false, error: 'server-error' },
      ],
      fallbacks: [{ from: 'primary', to: 'backup' }],
    });
  });

  it('a cancelled turn: the attempt it cut short, outcome cancelled', async () => {
    const m = await start();
    primary.models.get('primary')!.behaviour = { kind: 'hang' };
    const controller = new AbortController();
    const turn = m.chat({ message: 'This will be cancelled.' }, { signal: controller.signal });
    const asked = primary.requests.length;
    while (primary.requests.length === asked) await new Promise((r) => setTimeout(r, 10));
    controller.abort();
    await expect(turn).rejects.toMatchObject({ code: 'cancelled' });
    const [line] = await closeAndRead();
    expect(line).toMatchObject({
      outcome: 'cancelled',
      error: { code: 'cancelled' },
      model: null,
      chosen: { model: 'primary' },
      attempts: [{ model: 'primary', backend: 'a', ok: false, error: 'cancelled' }],
      fallbacks: [],
    });
    expect(line!.attempts[0]!.queueMs).toBeGreaterThanOrEqual(0);
  });

  it('ledger.enabled: false writes nothing', async () => {
    const m = await start('ledger: { enabled: false }');
    await m.chat({ message: 'Unrecorded.' });
    expect(await closeAndRead()).toEqual([]);
  });

  it('a read-only state directory never fails a turn: one warning, the ledger pauses', async () => {
    await mkdir(join(stateDir, 'conversations'), { recursive: true }); // the conversations themselves stay writable
    const undo = makeReadOnly(stateDir);
    try {
      const m = await start();
      for (let i = 0; i < 3; i++) expect((await m.chat({ message: `Turn ${i}.` })).model).toBe('primary');
      await m.close();
      mai = undefined;
      const warnings = log.lines.filter((l) => l.level === 'warn' && l.message.includes('ledger'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.message).toMatch(/cannot write to .*ledger\.jsonl.*(read-only|EACCES|EPERM).*turns go on unrecorded/);
      expect(await readdir(stateDir)).toEqual(['conversations']);
    } finally {
      undo();
    }
  });

  it('a full disk never fails a turn: one warning, the ledger pauses', async () => {
    await mkdir(join(stateDir, 'ledger'), { recursive: true });
    await symlink('/dev/full', join(stateDir, 'ledger', 'ledger.jsonl')); // every write: ENOSPC
    const m = await start();
    for (let i = 0; i < 3; i++) expect((await m.chat({ message: `Turn ${i}.` })).text).toBe('Primary says the secret answer.');
    await m.close();
    mai = undefined;
    const warnings = log.lines.filter((l) => l.level === 'warn' && l.message.includes('ledger'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toMatch(/the disk is full, ENOSPC/);
  });
});
