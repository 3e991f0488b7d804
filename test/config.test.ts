import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findConfig, loadConfig, parseConfig } from '../core/config/load.ts';
import { isMaiError, type MaiError } from '../core/errors.ts';
import { createLogger } from '../core/log.ts';
import { Mai } from '../core/mai.ts';
import { tempDir, type TempDir } from './support/harness.ts';
import { builtinPlugins } from '../plugins/index.ts';

function configError(text: string): MaiError {
  try {
    parseConfig(text, '/etc/mai/mai.config.yaml');
  } catch (error) {
    if (isMaiError(error)) return error;
    throw error;
  }
  throw new Error('expected the config to be refused');
}

describe('config validation', () => {
  it('names the YAML path, the line, what is allowed and what was found', () => {
    const error = configError(`scorers:
  - use: resource-fit
    weight: 3
  - use: latency
    weight: high
`);
    expect(error.code).toBe('config-invalid');
    expect(error.message).toContain('scorers[1].weight: expected a number, got "high" (mai.config.yaml:5)');
  });

  it('reports a number out of range with its bound', () => {
    const error = configError('scorers:\n  - use: latency\n    weight: -1\n');
    expect(error.message).toContain('scorers[0].weight: expected a number ≥ 0, got -1 (mai.config.yaml:3)');
  });

  it('reports an unknown key with the keys that are allowed', () => {
    const error = configError('monitor:\n  enabled: true\n  intervall: 500\n');
    expect(error.message).toMatch(/monitor: unknown key "intervall"; allowed keys: enabled, intervalMs/);
    expect(error.message).toContain('(mai.config.yaml:3)');
    // models: and metrics.listen have schemas built only when a config writes them (lazySchema): their keys are named all the same.
    expect(configError('models:\n  - id: m\n    tierr: small\n').message).toMatch(/models\[0\]: unknown key "tierr"; allowed keys: id, backend, tier, capabilities, contextLength/);
    expect(configError('metrics:\n  listen: { port: 9, extra: 1 }\n').message).toMatch(/metrics\.listen: unknown key "extra"; allowed keys: host, port/);
  });

  it('reports a wrong enum value with the allowed values', () => {
    const error = configError('models:\n  - id: m\n    tier: huge\n');
    expect(error.message).toContain('models[0].tier: expected one of "small", "medium", "large", got "huge" (mai.config.yaml:3)');
    expect(configError('context:\n  fsync: always\n').message).toContain('context.fsync: expected one of "after-reply", "before-reply", got "always" (mai.config.yaml:2)');
  });

  it('reports every problem at once, not only the first', () => {
    const error = configError('fallback:\n  retries: many\ncontext:\n  compressAt: 2\n');
    expect(error.message).toContain('fallback.retries');
    expect(error.message).toContain('context.compressAt: expected a number ≤ 1, got 2');
    expect(error.message).toContain('nothing of it was applied');
  });

  it('reports YAML syntax errors with file, line and column', () => {
    const error = configError('backends:\n  - use: openai\n    options: { baseURL: "http://x\n');
    expect(error.code).toBe('config-invalid');
    expect(error.message).toMatch(/is not valid YAML:\n\s+mai\.config\.yaml:\d+:\d+/);
    expect(error.message).toContain('Fix the YAML syntax');
  });

  it('fills in defaults for an empty map', () => {
    const loaded = parseConfig('{}', '/tmp/empty.yaml');
    expect(loaded.config.fallback.retries).toBe(1);
    expect(loaded.config.monitor.intervalMs).toBe(2000);
  });

  it('each config that leaves a section out gets its own default objects, not one shared by every parse', () => {
    const first = parseConfig('{}', '/tmp/first.yaml').config;
    const second = parseConfig('{}', '/tmp/second.yaml').config;
    expect(second.fallback).toEqual(first.fallback);
    first.fallback.chains['big'] = ['small'];
    first.reload.allow.push('./other.yaml');
    expect(second.fallback.chains).toEqual({});
    expect(second.reload.allow).toEqual([]);
  });

  it('a section left out means the documented default (mai.config.yaml), not none; an empty list means none', () => {
    const shipped = loadConfig({ flag: join(import.meta.dirname, '..', 'mai.config.yaml') }).config;
    const omitted = parseConfig('fallback: { retries: 0 }\n', '/tmp/own.yaml').config;
    expect(omitted.scorers).toEqual(shipped.scorers);
    expect(omitted.scorers.map((s) => s.use)).toEqual(['resource-fit', 'context-fit', 'capability', 'reliability', 'latency', 'load']);
    expect(omitted.backends).toEqual(shipped.backends);
    // Everything but the one section the file set is the shipped default.
    expect({ ...omitted, fallback: shipped.fallback }).toEqual(shipped);
    const none = parseConfig('scorers: []\nbackends: []\n', '/tmp/none.yaml').config;
    expect(none.scorers).toEqual([]);
    expect(none.backends).toEqual([]);
  });

  it('accepts the shipped default config', () => {
    const loaded = loadConfig({ flag: join(import.meta.dirname, '..', 'mai.config.yaml') });
    expect(loaded.config.backends.map((b) => b.use)).toEqual(['gguf', 'ollama', 'lmstudio', 'openai']);
  });
});

describe('finding the config', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(() => dir.cleanup());

  it('prefers --config, then MAI_CONFIG, then ./mai.config.yaml, then XDG, then the built-in', async () => {
    const cwd = join(dir.path, 'cwd');
    const xdg = join(dir.path, 'xdg');
    await mkdir(join(xdg, 'mai'), { recursive: true });
    await mkdir(cwd, { recursive: true });
    const env: Record<string, string> = { XDG_CONFIG_HOME: xdg, HOME: dir.path };
    expect(findConfig({ cwd, env }).source).toBe('builtin');
    await writeFile(join(xdg, 'mai', 'config.yaml'), '');
    expect(findConfig({ cwd, env })).toEqual({ file: join(xdg, 'mai', 'config.yaml'), source: 'xdg' });
    await writeFile(join(cwd, 'mai.config.yaml'), '');
    expect(findConfig({ cwd, env }).source).toBe('cwd');
    await writeFile(join(dir.path, 'env.yaml'), '');
    expect(findConfig({ cwd, env: { ...env, MAI_CONFIG: join(dir.path, 'env.yaml') } }).source).toBe('env');
    await writeFile(join(dir.path, 'flag.yaml'), '');
    expect(findConfig({ cwd, env: { ...env, MAI_CONFIG: join(dir.path, 'env.yaml') }, flag: join(dir.path, 'flag.yaml') }).source).toBe('flag');
  });

  it('says which flag named a missing file and how to fix it', () => {
    expect(() => findConfig({ flag: join(dir.path, 'nope.yaml') })).toThrow(/nope\.yaml \(named by --config\) does not exist\. Fix the path/);
    expect(() => findConfig({ env: { MAI_CONFIG: join(dir.path, 'gone.yaml') } })).toThrow(/named by MAI_CONFIG/);
  });
});

describe('plugin loading from the config', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(() => dir.cleanup());

  const create = async (yaml: string) => {
    const file = join(dir.path, 'mai.config.yaml');
    await writeFile(file, `${yaml}\ncontext:\n  stateDir: ./state\n`);
    return Mai.create({ plugins: builtinPlugins, loaded: loadConfig({ flag: file }), log: createLogger('test', 'silent') });
  };

  it('lists the known plugins when one is unknown, with the config line', async () => {
    await expect(create('scorers:\n  - use: resource-fit\n  - use: vibes\n')).rejects.toThrow(
      /scorers\[1\]\.use: unknown scorer plugin "vibes" \(mai\.config\.yaml:3\)\. Known scorer plugins: resource-fit, context-fit, capability, reliability, latency/,
    );
  });

  it('loads a plugin from a relative path and creates it with its options from the config', async () => {
    // The module records what create() was given, so the test sees that it was imported and built.
    await writeFile(
      join(dir.path, 'always-one.js'),
      `export default { kind: 'scorer', name: 'always-one', create: (options) => { globalThis.maiTestCreated = options; return { name: 'always-one', score: () => ({ score: 1 }) }; } };\n`,
    );
    const created = globalThis as { maiTestCreated?: unknown };
    delete created.maiTestCreated;
    try {
      const mai = await create('scorers:\n  - use: ./always-one.js\n    options: { marker: loaded }\n');
      await mai.close();
      expect(created.maiTestCreated).toEqual({ marker: 'loaded' });
    } finally {
      delete created.maiTestCreated; // the files after this one share the worker's globalThis (test/support/shared-files.ts)
    }
  });

  it('refuses a module that does not export a plugin, saying what it must export', async () => {
    await writeFile(join(dir.path, 'not-a-plugin.js'), 'export const hello = 1;\n');
    await expect(create('scorers:\n  - use: ./not-a-plugin.js\n')).rejects.toThrow(
      /"\.\/not-a-plugin\.js" does not export a scorer plugin \(mai\.config\.yaml:2\)\. Its default export must be definePlugin/,
    );
  });

  it('names the plugin and the config line when its module throws at load time', async () => {
    await writeFile(join(dir.path, 'broken.js'), "throw new Error('boom at import');\n");
    await expect(create('backends:\n  - use: ./broken.js\n')).rejects.toThrow(/backends\[0\]\.use: the plugin module "\.\/broken\.js" failed to load \(mai\.config\.yaml:2\): boom at import/);
  });

  it('names the plugin when its create() throws', async () => {
    await writeFile(
      join(dir.path, 'angry.js'),
      `export default { kind: 'backend', name: 'angry', create() { throw new Error('no socket'); } };\n`,
    );
    await expect(create('backends:\n  - use: ./angry.js\n    name: grumpy\n')).rejects.toThrow(/The backend plugin "grumpy" \(angry\) failed to start \(mai\.config\.yaml:2\): no socket/);
  });

  it("validates a plugin's options with their YAML lines", async () => {
    await expect(create('backends:\n  - use: openai\n    options:\n      baseURL: 42\n')).rejects.toThrow(
      /backends\[0\]\.options\.baseURL: expected a string, got 42 \(mai\.config\.yaml:4\)/,
    );
  });
});
