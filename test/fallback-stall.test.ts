/**
 * Issue 16, defects 4 and 5 (pinned model cooling down): a stream that stops after a few tokens is
 * cut after `fallback.stallTimeoutMs` and the turn moves on mid-stream (`restart`, the fallback's
 * text only), and turns queued for the stalled model are answered too; a pinned model that cools
 * down is still tried first, and its fallback answers when it fails again. Real OpenAI-compatible
 * SSE servers on 127.0.0.1.
 */
import { describe, expect, it } from 'vitest';
import type { Mai } from '../core/mai.ts';
import type { TurnEvent } from '../core/pipeline/turn.ts';
import type { FakeModel } from './support/openai-server.ts';
import { useScene } from './support/scene.ts';

describe('stalls and cooling pins', () => {
  const scene = useScene();

  async function start(models: FakeModel[], fallback: string, scorers = '[{ use: context-fit }]'): Promise<Mai> {
    const server = await scene.openai(models);
    return scene.mai(
      `
backends: [{ use: openai, name: loop, options: { baseURL: "${server.baseURL}" } }]
models:
  - { id: primary, tier: large, contextLength: 4096, priority: 10 }
  - { id: backup, tier: small, contextLength: 4096 }
scorers: ${scorers}
fallback: ${fallback}
switching: { preload: false }
context: { stateDir: ./state, summary: digest }
`,
    );
  }

  it('a primary that sends two tokens and then nothing is cut after stallTimeoutMs; the backup answers, queued turns too', async () => {
    const m = await start(
      [
        { id: 'primary', reply: 'one two three four', chunks: 4, queue: [{ kind: 'stall', afterChunks: 2 }, { kind: 'stall', afterChunks: 2 }] },
        { id: 'backup', reply: 'Backup answers.' },
      ],
      '{ retries: 0, backoffMs: 0, stallTimeoutMs: 400, firstTokenTimeoutMs: 30000, totalTimeoutMs: 600000 }',
    );
    const events: TurnEvent[] = [];
    const [first, second] = await Promise.all([
      m.chat({ message: 'hi' }, { onEvent: (e) => events.push(e) }),
      m.chat({ message: 'and me?' }),
    ]);
    expect(first.text).toBe('Backup answers.');
    expect(first.model).toBe('backup');
    expect(first.attempts[0]).toEqual({ model: 'primary', error: { code: 'timeout', message: 'primary stalled: it sent no further token within 400 ms.' } });
    const kinds = events.map((e) => e.kind);
    expect(kinds.indexOf('restart')).toBeGreaterThan(kinds.indexOf('delta'));
    const afterRestart = events.slice(kinds.indexOf('restart') + 1).filter((e) => e.kind === 'delta');
    expect(afterRestart.map((e) => (e as { text: string }).text).join('')).toBe('Backup answers.');
    expect(second.text).toMatch(/Backup answers\.|one two three four/);
    const stored = await m.getConversation(first.conversationId);
    expect(stored.messages.at(-1)?.role).toBe('assistant');
    expect(JSON.stringify(stored.messages.at(-1))).toContain('Backup answers.');
  });

  it('a stream whose tokens keep coming is never cut, however much longer than stallTimeoutMs it lasts', async () => {
    const m = await start(
      [
        { id: 'primary', reply: 'a steady answer in ten pieces', chunks: 10, chunkDelayMs: 100 },
        { id: 'backup', reply: 'Backup answers.' },
      ],
      '{ retries: 0, backoffMs: 0, stallTimeoutMs: 600, firstTokenTimeoutMs: 30000, totalTimeoutMs: 600000 }',
    );
    const result = await m.chat({ message: 'hi', model: 'primary' });
    expect(result.attempts).toEqual([{ model: 'primary' }]);
    expect(result.text).toBe('a steady answer in ten pieces');
  });

  it('a pinned model cooling down is tried first, not refused; when it fails again its fallback answers, the attempt visible', async () => {
    const m = await start(
      [
        { id: 'primary', reply: 'Primary answers.', queue: [{ kind: 'status', status: 500 }, { kind: 'status', status: 500 }] },
        { id: 'backup', reply: 'Backup answers.' },
      ],
      '{ retries: 0, backoffMs: 0, failuresBeforeCooldown: 1, cooldownMs: 600000 }',
      '[{ use: context-fit }, { use: reliability }]',
    );
    await m.switch('primary');
    const cooled = await m.chat({ message: 'one' });
    expect(cooled.model).toBe('backup');
    expect((await m.models({ refresh: false })).models.find((r) => r.id === 'primary')?.coolingDownUntil).toBeDefined();

    const again = await m.chat({ message: 'two' }); // primary still cooling, fails again: backup
    expect(again.attempts.map((a) => a.model)).toEqual(['primary', 'backup']);
    expect(again.text).toBe('Backup answers.');
    const recovered = await m.chat({ message: 'three' }); // still cooling, now healthy: primary answers
    expect(recovered).toMatchObject({ model: 'primary', text: 'Primary answers.' });
    // A turn that names the model is treated the same way.
    const named = await m.chat({ message: 'four', model: 'primary' });
    expect(named.model).toBe('primary');
  });
});
