/**
 * Each HTTP backend validates its `options` with its own zod schema: the shipped
 * mai.config.yaml passes all three, and a wrong option is refused before anything starts, with
 * the option's path, its line in the file, and what is allowed.
 */
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../core/config/load.ts';
import { createLogger } from '../core/log.ts';
import { Mai } from '../core/mai.ts';
import { FixedMonitor } from '../core/monitor/resource-monitor.ts';
import { lmstudio, ollama, openai } from '../plugins/backends/index.ts';
import { failure } from './support/backend-helpers.ts';
import { snapshot, tempDir, writeConfig, type TempDir } from './support/harness.ts';
import { builtinPlugins } from '../plugins/index.ts';

const shipped = fileURLToPath(new URL('../mai.config.yaml', import.meta.url));

describe('backend options', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(async () => {
    await dir.cleanup();
  });

  it("the shipped mai.config.yaml's ollama, lmstudio and openai options pass their plugins' schemas", () => {
    const { config } = loadConfig({ flag: shipped });
    const parsed = Object.fromEntries(
      [ollama, lmstudio, openai].map((plugin) => {
        const ref = config.backends.find((b) => b.use === plugin.name);
        expect(ref, `${plugin.name} is in mai.config.yaml`).toBeDefined();
        return [plugin.name, plugin.options!.parse(ref!.options)];
      }),
    );
    expect(parsed.ollama).toMatchObject({ baseURL: 'http://127.0.0.1:11434', maxContextLength: 32_768, truncationTolerance: 0.6 });
    expect(parsed.lmstudio).toMatchObject({ baseURL: 'http://127.0.0.1:1234', startServer: false, startTimeoutMs: 30_000 });
    expect(parsed.openai).toMatchObject({ baseURL: 'http://127.0.0.1:8080/v1', llamaCppExtras: true });
  });

  const create = async (yaml: string) => {
    const file = await writeConfig(dir.path, yaml);
    return Mai.create({ plugins: builtinPlugins, loaded: loadConfig({ flag: file }), log: createLogger('test', 'silent'), createMonitor: () => new FixedMonitor(snapshot()) });
  };

  it('a wrong type is refused with the option path, its line and what is allowed', async () => {
    const error = await failure(create(`
backends:
  - use: lmstudio
    options:
      baseURL: http://127.0.0.1:1234
      startServer: "yes"
`));
    expect(error.code).toBe('config-invalid');
    expect(error.message).toMatch(/lmstudio/);
    expect(error.message).toMatch(/backends\[0\]\.options\.startServer/);
    expect(error.message).toMatch(/expected true or false, got "yes" \(mai\.config\.yaml:6\)/);
  });

  it('an unknown option (a typo) is refused rather than ignored', async () => {
    const error = await failure(create(`
backends:
  - use: ollama
    options:
      baseUrl: http://127.0.0.1:11434
`));
    expect(error.code).toBe('config-invalid');
    // The keys it may have are named, though the plugin's schema is built only when a config names it (lazySchema).
    expect(error.message).toMatch(/options: unknown key "baseUrl"; allowed keys: baseURL, requestTimeoutMs, keepAlive, maxContextLength/);
  });

  it('an address that is not a URL is refused', async () => {
    const error = await failure(create(`
backends:
  - use: openai
    options: { baseURL: "localhost port 8080" }
`));
    expect(error.code).toBe('config-invalid');
    expect(error.message).toMatch(/backends\[0\]\.options\.baseURL/);
  });
});
