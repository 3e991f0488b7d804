/**
 * `npm install` must not rewrite the committed package-lock.json (a fresh clone stays clean).
 * npm recomputes the lock's flags (dev, optional, devOptional) from package.json whenever it
 * installs; this runs that computation alone — `--package-lock-only`, offline, with an empty cache,
 * on a copy of the two files and the project's .npmrc (which keeps the tarball URLs in the lock) — and
 * the result must be byte for byte what is committed.
 */
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, type TempDir } from './support/harness.ts';
import { repoRoot } from './support/rpc-client.ts';

describe('package-lock.json', () => {
  let dir: TempDir;
  beforeAll(async () => {
    dir = await tempDir('mai-lock-');
  });
  afterAll(() => dir.cleanup());

  it('is what npm install would write: installing leaves the clone clean', async () => {
    for (const file of ['package.json', 'package-lock.json', '.npmrc']) await copyFile(join(repoRoot, file), join(dir.path, file));
    await mkdir(join(dir.path, 'cache'));
    const npm = spawnSync(
      'npm',
      ['install', '--package-lock-only', '--ignore-scripts', '--offline', '--no-audit', '--no-fund', '--cache', join(dir.path, 'cache')],
      { cwd: dir.path, encoding: 'utf8', timeout: 120_000, env: { ...process.env, npm_config_update_notifier: 'false' } },
    );
    expect(npm.status, npm.stderr).toBe(0);
    const committed = await readFile(join(repoRoot, 'package-lock.json'), 'utf8');
    const rewritten = await readFile(join(dir.path, 'package-lock.json'), 'utf8');
    // On a mismatch: rm -rf node_modules && npm ci && npm install, and commit the lock file it leaves.
    expect(rewritten).toBe(committed);
  }, 150_000);
});
