/**
 * scripts/demo-models.js as a newcomer runs it (a real `node` process, plain JS, no build):
 * writes the two demo models into an empty folder, is idempotent, never writes next to a real
 * model, and says what it did on stderr only.
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readGgufHeader } from '../plugins/backends/gguf-metadata.ts';
import { DEMO_REVISION } from '../scripts/gguf/tiny-llama.js';
import { meta, writeGguf } from '../scripts/gguf/writer.js';
import { tempDir, type TempDir } from './support/harness.ts';

const run = promisify(execFile);
const script = join(import.meta.dirname, '..', 'scripts', 'demo-models.js');
let dir: TempDir;

beforeAll(async () => {
  dir = await tempDir('mai-demo-models-');
});
afterAll(() => dir.cleanup());

async function demoModels(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [script, ...args], { cwd: dir.path });
}

describe('scripts/demo-models.js', () => {
  it('writes both models into ./models, then leaves them alone', async () => {
    const first = await demoModels();
    expect(first.stdout).toBe('');
    expect(first.stderr).toMatch(/wrote .*mai-demo-small\.gguf .*random weights: its answers are noise/);
    expect(first.stderr).toMatch(/wrote .*mai-demo-large\.gguf/);
    const files = (await readdir(join(dir.path, 'models'))).sort();
    expect(files).toEqual(['mai-demo-large.gguf', 'mai-demo-small.gguf']);
    const before = await stat(join(dir.path, 'models', 'mai-demo-small.gguf'));

    const second = await demoModels();
    expect(second.stdout).toBe('');
    expect(second.stderr).toMatch(/is already there/);
    expect(second.stderr).toMatch(/nothing to do/);
    const after = await stat(join(dir.path, 'models', 'mai-demo-small.gguf'));
    expect(after.mtimeMs).toBe(before.mtimeMs);
  });

  it('writes a demo model of an older revision again (its answers could end at their first token), and keeps a file of that name it did not write', async () => {
    const models = join(dir.path, 'older', 'models');
    await mkdir(models, { recursive: true });
    // An older demo model: `mai.demo` in its metadata, no `mai.demo.revision`.
    await writeGguf(join(models, 'mai-demo-small.gguf'), { metadata: [meta.str('general.architecture', 'llama'), meta.bool('mai.demo', true)], tensors: [] });
    const own = { metadata: [meta.str('general.architecture', 'llama'), meta.str('general.name', 'mine')], tensors: [] };
    await writeGguf(join(models, 'mai-demo-large.gguf'), own);
    const ownBytes = await readFile(join(models, 'mai-demo-large.gguf'));
    const result = await run(process.execPath, [script], { cwd: join(dir.path, 'older') });
    expect(result.stderr).toMatch(/wrote .*mai-demo-small\.gguf over an older demo model/);
    expect(result.stderr).toMatch(/mai-demo-large\.gguf is already there/);
    expect((await readGgufHeader(join(models, 'mai-demo-small.gguf'))).metadata.get('mai.demo.revision')).toBe(DEMO_REVISION);
    expect(await readFile(join(models, 'mai-demo-large.gguf'))).toEqual(ownBytes);
  });

  it('writes nothing into a folder that already has a real model', async () => {
    const other = join(dir.path, 'real');
    await mkdir(join(other, 'publisher', 'repo'), { recursive: true });
    await writeFile(join(other, 'publisher', 'repo', 'qwen2.5-7b-instruct-q4_k_m.gguf'), 'GGUF…');
    const result = await demoModels('--dir', other);
    expect(result.stderr).toMatch(/already has 1 other model\(s\) .*qwen2\.5-7b-instruct-q4_k_m\.gguf.*demo models not written/);
    expect(await readdir(other)).toEqual(['publisher']);
  });

  it('refuses an unknown argument with a pointer to --help', async () => {
    const error = await demoModels('--bogus').then(
      () => null,
      (e: { code?: number; stderr?: string }) => e,
    );
    expect(error?.code).toBe(2);
    expect(error?.stderr).toMatch(/unknown argument "--bogus". Try --help/);
  });
});
