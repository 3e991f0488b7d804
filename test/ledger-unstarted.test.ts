/**
 * Turns that fail before a model is ever tried still leave their ledger line, with the error's
 * code and no attempt: before the pipeline starts (a conversation id that is not valid, a client
 * that is gone), and in selection (a model nobody has, no model at all). The metrics count
 * them too. A process that exits without closing Mai (process.exit right after the last reply)
 * still writes the lines of its last turns.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Mai } from '../core/mai.ts';
import { createTestMai, tempDir, writeConfig, type TempDir } from './support/harness.ts';
import { readLedger } from './support/ledger-helpers.ts';
import { closedPort, startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';

const config = (baseURL: string) => `backends:
  - use: openai
    name: only
    options: { baseURL: ${baseURL}, llamaCppExtras: false }
scorers: [{ use: resource-fit }]
fallback: { retries: 0, backoffMs: 0 }
monitor: { enabled: false }
context: { stateDir: ./state, summary: digest }
`;

describe('turns that fail before a model is tried', () => {
  let dir: TempDir;
  let server: FakeOpenAIServer;
  let mai: Mai | undefined;

  beforeEach(async () => {
    dir = await tempDir('mai-unstarted-');
    server = await startOpenAIServer([{ id: 'solo', reply: 'Fine.' }]);
  });
  afterEach(async () => {
    await mai?.close();
    mai = undefined;
    await server.close();
    await dir.cleanup();
  });

  const closeAndRead = async () => {
    await mai?.close();
    mai = undefined;
    return readLedger(join(dir.path, 'state'));
  };

  it('an invalid conversation id, a detached client, an unknown model: a line each, with the error code and no attempt', async () => {
    ({ mai } = await createTestMai(dir.path, config(server.baseURL)));
    await expect(mai.chat({ message: 'Hello.', conversationId: '../../etc/passwd' })).rejects.toMatchObject({ code: 'invalid-params' });
    const editor = mai.attachClient({ name: 'nvim' });
    editor.detach();
    await expect(mai.chat({ message: 'Too late.', client: editor.id })).rejects.toMatchObject({ code: 'cancelled' });
    await expect(mai.chat({ message: 'You, please.', model: 'nope' })).rejects.toMatchObject({ code: 'unknown-model' });
    await mai.chat({ message: 'A good one.' });
    const metrics = (await mai.metrics()).text;
    expect(metrics).toMatch(/^mai_turns_total\{model="none",outcome="failed"\} 2$/m);
    expect(metrics).toMatch(/^mai_turns_total\{model="none",outcome="cancelled"\} 1$/m);
    const [invalid, detached, unknown, good, ...more] = await closeAndRead();
    expect(more).toEqual([]);
    expect(invalid).toMatchObject({
      outcome: 'failed',
      error: { code: 'invalid-params', message: expect.stringMatching(/not a valid conversation id/) },
      conversation: '../../etc/passwd',
      model: null,
      chosen: null,
      attempts: [],
      ranking: [],
      tokens: null,
    });
    expect(invalid!.ms).toBeGreaterThanOrEqual(0);
    expect(detached).toMatchObject({ outcome: 'cancelled', error: { code: 'cancelled' }, client: editor.id, attempts: [] });
    expect(unknown).toMatchObject({ outcome: 'failed', error: { code: 'unknown-model' }, attempts: [] });
    expect(good).toMatchObject({ outcome: 'ok', model: 'solo' });
  });

  it('no model at all (the only backend unreachable): recorded with its code', async () => {
    ({ mai } = await createTestMai(dir.path, config(`http://127.0.0.1:${await closedPort()}/v1`)));
    await expect(mai.chat({ message: 'Anyone?' })).rejects.toMatchObject({ code: 'no-model-fits' });
    const [nobody, ...more] = await closeAndRead();
    expect(more).toEqual([]);
    expect(nobody).toMatchObject({ outcome: 'failed', model: null, attempts: [], error: { code: 'no-model-fits' }, up: [], down: ['only'] });
  });

  it('a process that exits without closing Mai still writes its last turns', async () => {
    const dist = (path: string) => JSON.stringify(pathToFileURL(join(process.cwd(), 'dist', path)).href);
    const file = await writeConfig(dir.path, config(server.baseURL));
    const script = `import { Mai } from ${dist('core/mai.js')};
import { loadConfig } from ${dist('core/config/load.js')};
import { builtinPlugins } from ${dist('plugins/index.js')};
const mai = await Mai.create({ plugins: builtinPlugins, loaded: loadConfig({ flag: ${JSON.stringify(file)} }) });
await mai.chat({ message: 'One.' });
await mai.chat({ message: 'Two.' });
process.exit(0); // no close: the ledger's batch has not gone out yet
`;
    // Evaluated from the repository (so its packages resolve on Deno as on Node), state in the test's folder.
    const command = 'Deno' in globalThis ? [process.execPath, 'eval', script] : [process.execPath, '--input-type=module', '-e', script];
    const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], cwd: process.cwd() });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code, stderr).toBe(0);
    expect(readLedger(join(dir.path, 'state')).map((l) => l.outcome)).toEqual(['ok', 'ok']);
  });
});
