/**
 * scripts/build.js does not bundle an unchanged tree again: dist/bundle/inputs.txt names what the
 * bundle was made from (a hash of tsc's JavaScript outside the bundle, package-lock.json and the
 * script) and the bundle's files; a build whose inputs match and whose files are all there stops
 * after tsc. In a copy of the checkout (node_modules linked), so the bundle the other tests run is
 * never touched: the build of an unchanged copy (the checkout's bundle, copied) rewrites nothing, a changed input or a missing
 * file of the bundle bundles again.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, type TempDir } from './support/harness.ts';
import { repoRoot } from './support/rpc-client.ts';

const onDeno = 'Deno' in globalThis;

describe.skipIf(onDeno)('scripts/build.js on an unchanged tree', () => {
  let dir: TempDir;
  let copy: string;
  const bundle = () => join(copy, 'dist', 'bundle');
  const build = () => {
    const run = spawnSync(process.execPath, [join(copy, 'scripts', 'build.js')], { cwd: copy, encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
  };
  /** Each file of the bundle and when it was last written. */
  const written = () => new Map(readdirSync(bundle()).map((name) => [name, statSync(join(bundle(), name)).mtimeMs]));

  beforeAll(async () => {
    dir = await tempDir('mai-build-skip-');
    copy = join(dir.path, 'mai');
    for (const part of ['core', 'plugins', 'rpc', 'scripts', 'dist', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) {
      cpSync(join(repoRoot, part), join(copy, part), { recursive: true, preserveTimestamps: true });
    }
    // The copy's inputs.txt is the checkout's: its hash is of paths relative to the checkout, and the same bytes.
    symlinkSync(join(repoRoot, 'node_modules'), join(copy, 'node_modules'));
  });
  afterAll(() => dir.cleanup());

  it('names its inputs and the bundle files, rewrites nothing when nothing changed, and bundles again when an input changed or a file is missing', () => {
    const [fingerprint, ...files] = readFileSync(join(bundle(), 'inputs.txt'), 'utf8').trim().split('\n');
    expect(fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(files.sort()).toEqual(readdirSync(bundle()).filter((name) => name !== 'inputs.txt').sort());

    const before = written();
    build();
    expect(written()).toEqual(before);
    expect(readFileSync(join(bundle(), 'inputs.txt'), 'utf8').split('\n')[0]).toBe(fingerprint);

    // A file of the bundle gone (a chunk deleted by hand): bundled again, the same file back.
    const chunk = files.find((name) => name.endsWith('.cjs') && name !== 'mai.cjs')!;
    const text = readFileSync(join(bundle(), chunk), 'utf8');
    rmSync(join(bundle(), chunk));
    build();
    expect(readFileSync(join(bundle(), chunk), 'utf8')).toBe(text);

    // An input changed (tsc's JavaScript): another fingerprint, the bundle made again from it.
    const entry = join(copy, 'dist', 'rpc', 'cli', 'run.js');
    writeFileSync(entry, `${readFileSync(entry, 'utf8')}\n// changed\n`);
    build();
    expect(readFileSync(join(bundle(), 'inputs.txt'), 'utf8').split('\n')[0]).not.toBe(fingerprint);
    expect(existsSync(join(bundle(), 'build-id.txt'))).toBe(true);
  }, 120_000);
});
