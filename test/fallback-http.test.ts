/**
 * Fallback against real HTTP servers on loopback: the primary model's server fails in each way a
 * real one does (refused, 500, 429 + Retry-After, hang, cut stream, context overflow); the answer
 * comes from the next model, and the failing one cools down (the next turn goes straight past it).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { isMaiError, type MaiError } from '../core/errors.ts';
import type { Mai } from '../core/mai.ts';
import type { TurnEvent } from '../core/pipeline/turn.ts';
import type { Behaviour, FakeOpenAIServer } from './support/openai-server.ts';
import { primaryBackupBackends, useScene } from './support/scene.ts';

const BACKUP_REPLY = 'The backup model answers.';

describe('fallback over real HTTP servers', () => {
  const scene = useScene();
  let primary: FakeOpenAIServer;
  let backup: FakeOpenAIServer;

  beforeEach(async () => {
    primary = await scene.openai([{ id: 'primary', reply: 'The primary model answers.', chunks: 4 }]);
    backup = await scene.openai([{ id: 'backup', reply: BACKUP_REPLY, chunks: 3 }]);
  });

  const config = (extra = '') => `
${primaryBackupBackends(primary.baseURL, backup.baseURL)}models:
  - { id: primary, tier: large, contextLength: 4096 }
  - { id: backup, tier: small, contextLength: 8192 }
scorers:
  - use: resource-fit
  - use: reliability
fallback:
  retries: 1
  backoffMs: 20
  retryAfterCapMs: 2000
  failuresBeforeCooldown: 1
  firstTokenTimeoutMs: 600
  loadingFirstTokenTimeoutMs: 600
${extra}
switching:
  minDwellMs: 0
context:
  stateDir: ./state
  summary: digest
`;

  async function start(extra = ''): Promise<Mai> {
    const mai = await scene.mai(config(extra));
    await mai.models(); // the catalogue is listed while both servers are up
    return mai;
  }

  function setPrimary(behaviour: Behaviour): void {
    primary.models.get('primary')!.behaviour = behaviour;
  }

  /** The turn is answered by the backup; the primary cools down and the next turn skips it. */
  async function expectFallback(m: Mai, code: string, events: TurnEvent[] = []) {
    const result = await m.chat({ message: 'Hello there.' }, { onEvent: (e) => events.push(e) });
    expect(result.model).toBe('backup');
    expect(result.text).toBe(BACKUP_REPLY);
    expect(result.attempts.at(-1)).toEqual({ model: 'backup' });
    expect(result.attempts.filter((a) => a.model === 'primary').map((a) => a.error?.code)).toContain(code);
    expect(result.text).not.toMatch(/primary|switch|fall/i); // silent: the reply never mentions it

    const report = await m.models({ refresh: false });
    const cooled = report.models.find((x) => x.id === 'primary');
    expect(cooled?.coolingDownUntil).toBeDefined();
    expect(cooled?.fits).toBe(false);
    expect(cooled?.vetoes.join(' ')).toMatch(/reliability: cooling down/);
    expect(m.status().lastSwitch).toMatchObject({ to: 'backup', reason: expect.stringMatching(/^fallback from primary/) });

    const primaryRequests = primary.requests.length;
    const next = await m.chat({ message: 'And again.' });
    expect(next.model).toBe('backup');
    expect(next.attempts).toEqual([{ model: 'backup' }]);
    expect(primary.requests.length).toBe(primaryRequests);
    return result;
  }

  it('refused: the primary server is down', async () => {
    const m = await start();
    await primary.close();
    const result = await expectFallback(m, 'unreachable');
    // Retried once after a backoff (transient), then moved on.
    expect(result.attempts.filter((a) => a.model === 'primary')).toHaveLength(2);
  });

  it('500: the primary server errors (retried once with backoff, then the next model)', async () => {
    const m = await start();
    setPrimary({ kind: 'status', status: 500 });
    const result = await expectFallback(m, 'server-error');
    expect(result.attempts.filter((a) => a.model === 'primary')).toHaveLength(2);
    expect(primary.requests).toHaveLength(2);
  });

  it('429 with a Retry-After under the cap: waits that long, retries, then moves on', async () => {
    const m = await start();
    setPrimary({ kind: 'status', status: 429, retryAfter: '1', body: { error: { message: 'slow down', type: 'rate_limit' } } });
    await expectFallback(m, 'rate-limited');
    expect(primary.requests).toHaveLength(2);
    const gap = primary.requests[1]!.at - primary.requests[0]!.at;
    expect(gap).toBeGreaterThanOrEqual(950); // Retry-After: 1 (second) was honoured
  });

  it('429 with a Retry-After over the cap: moves on at once', async () => {
    const m = await start();
    setPrimary({ kind: 'status', status: 429, retryAfter: '3600' });
    await expectFallback(m, 'rate-limited');
    expect(primary.requests).toHaveLength(1);
  });

  it('hang: the primary sends nothing; the first-token timeout moves on', async () => {
    const m = await start();
    setPrimary({ kind: 'hang' });
    const result = await expectFallback(m, 'timeout');
    expect(result.attempts.filter((a) => a.model === 'primary')).toHaveLength(1);
  });

  it('cut stream: text already streamed, the turn restarts on the next model and the client is told', async () => {
    const m = await start();
    setPrimary({ kind: 'cut', afterChunks: 2 });
    const events: TurnEvent[] = [];
    await expectFallback(m, 'stream-cut', events);
    const kinds = events.map((e) => e.kind);
    const restart = kinds.indexOf('restart');
    expect(restart).toBeGreaterThan(0); // deltas from the primary came first
    expect(events[restart]).toEqual({ kind: 'restart', model: 'backup' });
    const after = events.slice(restart + 1).map((e) => (e.kind === 'delta' ? e.text : '')).join('');
    expect(after).toBe(BACKUP_REPLY);
  });

  it('context overflow: the primary server rejects the prompt; a model with a larger window takes it', async () => {
    const m = await start();
    primary.models.get('primary')!.contextLength = 64; // the server's real window, smaller than Mai was told
    const result = await m.chat({ message: `Please read this: ${'lorem ipsum dolor sit amet '.repeat(12)}` });
    expect(result.model).toBe('backup');
    expect(result.attempts[0]?.error?.code).toBe('context-overflow');
    expect((await m.models({ refresh: false })).models.find((x) => x.id === 'primary')?.coolingDownUntil).toBeDefined();
  });

  it('every model fails: the turn fails with each attempt and its error in the data', async () => {
    const m = await start('');
    setPrimary({ kind: 'status', status: 500 });
    backup.models.get('backup')!.behaviour = { kind: 'status', status: 503 };
    const error = await m.chat({ message: 'hi' }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isMaiError(error, 'all-attempts-failed')).toBe(true);
    const attempts = (error as MaiError).data?.attempts as Array<{ model: string; error: { code: string } }>;
    expect(attempts.map((a) => `${a.model}:${a.error.code}`)).toEqual([
      'primary:server-error',
      'primary:server-error',
      'backup:server-error',
      'backup:server-error',
    ]);
  });

  it('a bad request from the client is not retried and not passed down the chain', async () => {
    const m = await start();
    setPrimary({ kind: 'status', status: 400, body: { error: { message: "'temperature' must be between 0 and 2", type: 'invalid_request_error' } } });
    const error = await m.chat({ message: 'hi', temperature: 7 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isMaiError(error, 'bad-request')).toBe(true);
    expect(primary.requests).toHaveLength(1);
    expect(backup.requests).toHaveLength(0);
  });
});

describe('cooldown after repeated failures (default: 3 within a minute)', () => {
  const scene = useScene();

  it('the primary cools down only at its third failure; then a turn asking for it still tries it first (issue 16) and falls back, the attempt visible', async () => {
    const primary = await scene.openai([{ id: 'primary', behaviour: { kind: 'status', status: 500 } }]);
    const backup = await scene.openai([{ id: 'backup', reply: BACKUP_REPLY }]);
    const mai = await scene.mai(`
${primaryBackupBackends(primary.baseURL, backup.baseURL)}models:
  - { id: primary, tier: large }
  - { id: backup, tier: small }
scorers: [{ use: resource-fit }, { use: reliability }]
fallback: { retries: 0, backoffMs: 10 }
`);
    const cooling = async () => (await mai.models({ refresh: false })).models.find((m) => m.id === 'primary')?.coolingDownUntil;
    for (let i = 1; i <= 3; i++) {
      const result = await mai.chat({ message: `turn ${i}`, model: 'primary' });
      expect(result.model).toBe('backup');
      if (i < 3) expect(await cooling()).toBeUndefined();
    }
    const until = await cooling();
    expect(until).toBeDefined();
    expect(Date.parse(until!) - Date.now()).toBeGreaterThan(50_000); // the default 60 s cooldown
    // A cooldown orders fallbacks; it does not override the client's choice (it was -32021 before).
    const fourth = await mai.chat({ message: 'turn 4', model: 'primary' });
    expect(fourth.model).toBe('backup');
    expect(fourth.attempts.map((a) => a.model)).toEqual(['primary', 'backup']);
    expect(primary.requests).toHaveLength(4);
  });
});

describe('context overflow with no larger window: the same model again, its prompt compressed', () => {
  const scene = useScene();

  it('retries within the window the server states, older turns compressed, and answers', async () => {
    const server = await scene.openai([{ id: 'solo', reply: 'Noted.' }]);
    const mai = await scene.mai(`
backends:
  - { use: openai, options: { baseURL: ${server.baseURL}, llamaCppExtras: false } }
models:
  - { id: solo, contextLength: 8192 }
scorers: [{ use: context-fit }]
context: { stateDir: ./state, summary: digest, replyTokens: 64 }
`);
    let conversationId: string | undefined;
    for (let i = 0; i < 6; i++) {
      const r = await mai.chat({ message: `Fact ${i}: ${'the quick brown fox jumps over the lazy dog '.repeat(4)}`, ...(conversationId ? { conversationId } : {}) });
      conversationId = r.conversationId;
    }
    const whole = server.requests.at(-1)!.messages.length;
    // The server's real window is far smaller than Mai was told: the whole conversation no longer fits.
    server.models.get('solo')!.contextLength = 300;
    const result = await mai.chat({ message: 'What was fact 5?', conversationId: conversationId! });
    expect(result.model).toBe('solo');
    expect(result.text).toBe('Noted.');
    expect(result.attempts).toEqual([{ model: 'solo', error: { code: 'context-overflow', message: expect.any(String) } }, { model: 'solo' }]);
    const [rejected, accepted] = server.requests.slice(-2);
    expect(rejected!.messages.length).toBe(whole + 2);
    expect(accepted!.messages.length).toBeLessThan(rejected!.messages.length);
    expect(accepted!.messages.at(-1)?.content).toBe('What was fact 5?');
    const chars = accepted!.messages.reduce((n, m) => n + m.content.length, 0);
    expect(Math.ceil(chars / 4) + (accepted!.maxTokens ?? 0)).toBeLessThanOrEqual(300);
  });
});
