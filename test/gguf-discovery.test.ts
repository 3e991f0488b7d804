/**
 * Finding GGUF models on disk, in temp folders laid out like a plain models folder, LM Studio's
 * (publisher/repo/file.gguf) and Ollama's (manifests → blobs/sha256-…): ids, split parts,
 * projectors and hidden folders skipped, duplicates listed once, broken manifests reported.
 * Then the backend lists them with their headers and skips a corrupt file with a warning.
 */
import { copyFile, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Logger } from '../core/log.ts';
import { discoverGguf, expandPath } from '../plugins/backends/gguf-discovery.ts';
import { GgufBackend } from '../plugins/backends/gguf-backend.ts';
import { GgufBackendOptions } from '../plugins/backends/gguf.ts';
import { DEMO_MODELS } from '../scripts/gguf/index.js';
import { putDemoModel } from './support/demo-models.ts';
import { tempDir, type TempDir } from './support/harness.ts';

let dir: TempDir;
let small: string;
let digest: string;

async function put(path: string, from: string = small): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await copyFile(from, path);
}

async function manifest(root: string, parts: string[], layers: unknown[]): Promise<void> {
  const path = join(root, 'manifests', ...parts);
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json', layers }));
}

beforeAll(async () => {
  dir = await tempDir('mai-gguf-discovery-');
  small = await putDemoModel(join(dir.path, 'source'), DEMO_MODELS[0]!);
  const models = join(dir.path, 'models');
  await put(join(models, 'alpha.gguf'));
  await put(join(models, 'nested', 'deeper', 'beta.gguf'));
  await put(join(models, 'mmproj-vision.gguf'));
  await put(join(models, '.cache', 'hidden.gguf'));
  await put(join(models, 'big-00001-of-00002.gguf'));
  await put(join(models, 'big-00002-of-00002.gguf'));
  await writeFile(join(models, 'readme.txt'), 'not a model');
  const lm = join(dir.path, 'lmstudio');
  await put(join(lm, 'publisher', 'repo-GGUF', 'gamma-Q4_K_M.gguf'));
  await put(join(lm, 'other', 'repo', 'alpha.gguf')); // same name as ./models/alpha.gguf
  await mkdir(join(lm, 'linked'), { recursive: true });
  await symlink(join(models, 'alpha.gguf'), join(lm, 'linked', 'alpha-link.gguf')); // the same file again
  const ollama = join(dir.path, 'ollama');
  digest = createHash('sha256').update(await readFile(small)).digest('hex');
  await put(join(ollama, 'blobs', `sha256-${digest}`));
  const modelLayer = { mediaType: 'application/vnd.ollama.image.model', digest: `sha256:${digest}`, size: 1 };
  const templateLayer = { mediaType: 'application/vnd.ollama.image.template', digest: `sha256:${'1'.repeat(64)}`, size: 1 };
  await manifest(ollama, ['registry.ollama.ai', 'library', 'tiny', 'latest'], [modelLayer, templateLayer]);
  await manifest(ollama, ['registry.ollama.ai', 'someone', 'tuned', 'q8'], [modelLayer]);
  await manifest(ollama, ['hf.co', 'user', 'repo', 'Q4_K_M'], [modelLayer]);
  await manifest(ollama, ['registry.ollama.ai', 'library', 'gone', 'latest'], [{ ...modelLayer, digest: `sha256:${'2'.repeat(64)}` }]);
  await mkdir(join(ollama, 'manifests', 'registry.ollama.ai', 'library', 'broken'), { recursive: true });
  await writeFile(join(ollama, 'manifests', 'registry.ollama.ai', 'library', 'broken', 'latest'), '{ not json');
});
afterAll(() => dir.cleanup());

const roots = () => ({
  folders: [join(dir.path, 'models'), join(dir.path, 'does-not-exist')],
  lmStudio: [join(dir.path, 'lmstudio')],
  ollama: [join(dir.path, 'ollama')],
});

describe('discovering GGUF models', () => {
  it('finds files in folders, LM Studio and Ollama with unique ids', async () => {
    const { models, problems } = await discoverGguf(roots());
    const byId = Object.fromEntries(models.map((m) => [m.id, m]));
    expect(Object.keys(byId).sort()).toEqual(['alpha', 'beta', 'big', 'gamma-Q4_K_M', 'hf.co/user/repo:Q4_K_M', 'repo/alpha', 'someone/tuned:q8', 'tiny:latest']);
    expect(byId.alpha).toMatchObject({ source: 'folder', file: join(dir.path, 'models', 'alpha.gguf') });
    expect(byId.big?.parts).toEqual([join(dir.path, 'models', 'big-00001-of-00002.gguf'), join(dir.path, 'models', 'big-00002-of-00002.gguf')]);
    expect(byId['gamma-Q4_K_M']?.source).toBe('lmstudio');
    expect(byId['repo/alpha']?.file).toBe(join(dir.path, 'lmstudio', 'other', 'repo', 'alpha.gguf'));
    expect(byId['tiny:latest']).toMatchObject({ source: 'ollama', file: join(dir.path, 'ollama', 'blobs', `sha256-${digest}`) });
    // The symlinked copy of alpha, the projector and the hidden folder are not listed.
    expect(models.some((m) => m.file.includes('alpha-link') || m.file.includes('mmproj') || m.file.includes('.cache'))).toBe(false);
    expect(problems).toHaveLength(2);
    expect(problems.find((p) => p.includes('gone:latest'))).toMatch(/blob .* is missing \(run `ollama pull gone:latest` again\)/);
    expect(problems.find((p) => p.includes('broken'))).toMatch(/unreadable/);
  });

  it('expands ~ and resolves relative folders against the config folder', () => {
    expect(expandPath('./models', '/etc/mai')).toBe('/etc/mai/models');
    expect(expandPath('/abs', '/etc/mai')).toBe('/abs');
    expect(expandPath('~/m', '/etc/mai')).toMatch(/\/m$/);
    expect(expandPath('~/m', '/etc/mai').startsWith('~')).toBe(false);
  });
});

describe('the backend over discovered files', () => {
  it('lists every readable model with its header data and warns once about a corrupt one', async () => {
    await writeFile(join(dir.path, 'models', 'corrupt.gguf'), 'GGUF but not really a model file at all......');
    const warnings: string[] = [];
    const log: Logger = {
      error: () => {},
      warn: (m) => warnings.push(m),
      info: () => {},
      debug: () => {},
      child: () => log,
    };
    const r = roots();
    const options = GgufBackendOptions.parse({ folders: r.folders, lmStudioFolders: r.lmStudio, ollamaFolders: r.ollama });
    const backend = new GgufBackend('gguf', options, { baseDir: dir.path, env: {}, log });
    const models = await backend.listModels();
    await backend.listModels();
    await backend.close();
    expect(models.map((m) => m.id)).toContain('tiny:latest');
    expect(models.map((m) => m.id)).not.toContain('corrupt');
    const tiny = models.find((m) => m.id === 'tiny:latest');
    expect(tiny).toMatchObject({ loaded: false, contextLength: DEMO_MODELS[0]!.contextLength, quantization: 'F32' });
    const big = models.find((m) => m.id === 'big');
    expect(big?.sizeBytes).toBe(2 * (tiny?.sizeBytes ?? 0));
    const corrupt = warnings.filter((w) => w.includes('corrupt.gguf'));
    expect(corrupt).toHaveLength(1);
    expect(corrupt[0]).toMatch(/not a valid GGUF file/);
    expect(warnings.filter((w) => w.includes('gone:latest'))).toHaveLength(1);
  });
});
