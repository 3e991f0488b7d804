/**
 * Where Mai is installed (core/package-root.ts): the sources, the per-file build and the bundle the
 * `mai` bin runs sit at different depths under the checkout, and each must find the same
 * package.json — for Mai's version, the built-in mai.config.yaml, and the bin that starts a host.
 * The bin is run as a real process (on Deno, Deno runs the same bundle).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromSources, maiPackage } from '../core/package-root.ts';
import { tempDir, type TempDir } from './support/harness.ts';
import { binPath, repoRoot, runCli } from './support/rpc-client.ts';

const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string; bin: { mai: string } };

describe('where Mai is installed', () => {
  let dir: TempDir;
  beforeAll(async () => {
    dir = await tempDir('mai-package-root-');
  });
  afterAll(() => dir.cleanup());

  it('from the sources: the checkout, its version and its bin', () => {
    expect(fromSources).toBe(true);
    expect(maiPackage()).toEqual({ root: repoRoot, version: pkg.version, bin: pkg.bin.mai });
    expect(binPath).toBe(join(repoRoot, pkg.bin.mai));
  });

  it('the built bin, at another depth, prints the same version and falls back on the built-in config', async () => {
    const version = await runCli(['--version'], { stateDir: join(dir.path, 'state') });
    expect(version.code, version.stderr).toBe(0);
    expect(version.stdout.trim()).toBe(pkg.version);
    // No --config, no MAI_CONFIG, no ./mai.config.yaml, no XDG one: the mai.config.yaml beside package.json.
    const status = await runCli(['status', '--json', '--standalone'], { stateDir: join(dir.path, 'state'), cwd: dir.path, env: { XDG_CONFIG_HOME: dir.path } });
    expect(status.code, status.stderr).toBe(0);
    expect((JSON.parse(status.stdout) as { config: unknown }).config).toEqual({ file: join(repoRoot, 'mai.config.yaml'), source: 'builtin' });
  }, 60_000);
});
