import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, type TempDir } from './support/harness.ts';

const root = join(import.meta.dirname, '..');

describe('npm run demo (the README main command, after npm install)', () => {
  let state: TempDir;
  beforeAll(async () => {
    state = await tempDir('mai-demo-state-');
  });
  afterAll(() => state.cleanup());

  it('answers a streamed turn, falls back from a failing model, switches model in the same conversation and persists the turns', () => {
    const run = spawnSync(process.execPath, [join(root, 'scripts', 'demo.js')], {
      cwd: root,
      env: { ...process.env, MAI_STATE_DIR: state.path, MAI_CONFIG: '' },
      encoding: 'utf8',
      timeout: 180_000,
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout, run.stderr).toMatch(/answered by mai-demo-large, \d+ tokens streamed/);
    expect(run.stdout, run.stderr).toMatch(/answered by mai-demo-small, \d+ tokens streamed/);
    expect(run.stdout).toContain('last switch: mai-demo-large → mai-demo-small');
    expect(run.stdout).toMatch(/"switches":1/);
    // A real fallback: the flaky server's model fails (503), the next model answers, status counts it.
    expect(run.stdout).toMatch(/✗ mai-demo-flaky: server-error: /);
    expect(run.stdout).toMatch(/answered by mai-demo-(large|small) \(mai-demo-flaky failed\)/);
    expect(run.stdout).toMatch(/"fallbacks":1/);
    // stdout is a pipe here: no ANSI codes.
    expect(run.stdout).not.toContain('\x1b[');
    // Both turns are on disk in Mai's state directory.
    const files = readdirSync(join(state.path, 'conversations')).filter((f) => f.endsWith('.jsonl'));
    expect(files).toHaveLength(1);
    expect(run.stdout).toMatch(/assistant \[mai-demo-large\][\s\S]*assistant \[mai-demo-(large|small)\][\s\S]*assistant \[mai-demo-small\]/);
  }, 200_000);
});
