/**
 * Nothing fits at all: minimal-resource mode tries the smallest model anyway, then the rest; only
 * when every model has failed does the turn fail (real Ollama backend, Ollama test server).
 */
import { describe, expect, it } from 'vitest';
import { isMaiError, type MaiError } from '../core/errors.ts';
import type { Mai } from '../core/mai.ts';
import { GiB, snapshot } from './support/harness.ts';
import type { FakeOllamaServer } from './support/ollama-server.ts';
import { useScene } from './support/scene.ts';


describe('minimal-resource mode', () => {
  const scene = useScene();
  let server: FakeOllamaServer;

  async function start(): Promise<Mai> {
    server = await scene.ollama([
      { name: 'large', sizeBytes: 20 * GiB, reply: 'large' },
      { name: 'medium', sizeBytes: 8 * GiB, reply: 'medium' },
      { name: 'small', sizeBytes: 3 * GiB, reply: 'small and squeezed in' },
    ]);
    return scene.mai(
      `
backends: [{ use: ollama, options: { baseURL: ${server.url} } }]
models:
  - { id: large, tier: large, contextLength: 2048 }
  - { id: medium, tier: medium, contextLength: 2048 }
  - { id: small, tier: small, contextLength: 2048 }
scorers: [{ use: resource-fit }]
fallback: { retries: 0 }
switching: { preload: false, unloadWaitMs: 100 }
`,
      snapshot({ memFreeBytes: 1 * GiB, memTotalBytes: 8 * GiB }),
    );
  }

  it('tries the smallest model anyway and answers with it', async () => {
    const m = await start();
    expect((await m.models()).models.every((x) => !x.fits)).toBe(true);
    const result = await m.chat({ message: 'hi' });
    expect(result).toMatchObject({ model: 'small', text: 'small and squeezed in', attempts: [{ model: 'small' }] });
    expect(m.status().lastSwitch?.reason).toMatch(/^minimal-resource: nothing fits/);
  });

  it('then the next smallest; the turn fails only when every model has, with each attempt in the data', async () => {
    const m = await start();
    server.models.get('small')!.behaviour = { kind: 'status', status: 500, error: 'out of memory' };
    expect((await m.chat({ message: 'hi' })).model).toBe('medium');
    server.models.get('medium')!.behaviour = { kind: 'status', status: 500, error: 'out of memory' };
    server.models.get('large')!.behaviour = { kind: 'status', status: 500, error: 'out of memory' };
    const error = await m.chat({ message: 'again' }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isMaiError(error, 'all-attempts-failed')).toBe(true);
    const attempts = (error as MaiError).data?.attempts as Array<{ model: string; error: { code: string; message: string } }>;
    expect(attempts.map((a) => a.model).sort()).toEqual(['large', 'medium', 'small']);
    expect(attempts.every((a) => a.error.code === 'server-error' && /out of memory/.test(a.error.message))).toBe(true);
  });
});
