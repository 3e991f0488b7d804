/**
 * scripts/build.js does not bundle an unchanged tree again: dist/bundle/inputs.txt names what the
 * bundle was made from (a hash of tsc's JavaScript outside the bundle, package-lock.json and the
 * script) and the bundle's files; a build whose inputs match and whose files are all there stops
 * after tsc. Run as `npm run build` runs it (the script, tsc -b, rolldown's two passes) on a small
 * tree of its own (the checkout's script, package.json, package-lock.json and tsconfigs; node_modules
 * linked; a few source files laid out as Mai's: the bin, the CLI with a dynamic import, so the bundle
 * has chunks besides its entries, and the sampling worker), so the bundle the other tests run is never
 * touched and rolldown bundles a few lines instead of Mai (~0.5 CPU-s a bundle instead of ~1.8): the
 * decision is the script's, whatever the tree. A build of the unchanged tree rewrites no file (with the
 * skip turned off it rewrites inputs.txt), a chunk deleted by hand is bundled back, and a changed
 * source is compiled and bundled anew under another fingerprint.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, type TempDir } from './support/harness.ts';
import { repoRoot } from './support/rpc-client.ts';

const onDeno = 'Deno' in globalThis;

/** The sources of the small tree: Mai's entries, where scripts/build.js looks for them. */
const sources: Record<string, string> = {
  'rpc/bin.ts': "import { run } from './cli/run.ts';\n\nvoid run();\n",
  'rpc/cli/run.ts': "export async function run(): Promise<void> {\n  const { greeting } = await import('./greeting.ts');\n  process.stdout.write(greeting());\n}\n",
  'rpc/cli/greeting.ts': "export const greeting = (): string => 'hello\\n';\n",
  'core/monitor/sample.worker.ts': 'export const sample = (): number => 1;\n',
};

describe.skipIf(onDeno)('scripts/build.js on an unchanged tree', () => {
  let dir: TempDir;
  let tree: string;
  const bundle = () => join(tree, 'dist', 'bundle');
  const build = () => {
    const run = spawnSync(process.execPath, [join(tree, 'scripts', 'build.js')], { cwd: tree, encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
  };
  const fingerprint = () => readFileSync(join(bundle(), 'inputs.txt'), 'utf8').split('\n')[0];
  /** Each file of the bundle and when it was last written. */
  const written = () => new Map(readdirSync(bundle()).map((name) => [name, statSync(join(bundle(), name)).mtimeMs]));
  /** What the bundled bin prints. */
  const greets = () => spawnSync(process.execPath, [join(bundle(), 'mai.js')], { encoding: 'utf8' }).stdout;

  beforeAll(async () => {
    dir = await tempDir('mai-build-skip-');
    tree = join(dir.path, 'mai');
    for (const part of ['scripts/build.js', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) {
      mkdirSync(dirname(join(tree, part)), { recursive: true });
      copyFileSync(join(repoRoot, part), join(tree, part));
    }
    for (const [path, text] of Object.entries(sources)) {
      mkdirSync(dirname(join(tree, path)), { recursive: true });
      writeFileSync(join(tree, path), text);
    }
    symlinkSync(join(repoRoot, 'node_modules'), join(tree, 'node_modules'));
    build();
  });
  afterAll(() => dir.cleanup());

  it('names its inputs and the bundle files, rewrites nothing when nothing changed, and bundles again when an input changed or a file is missing', () => {
    const [made, ...files] = readFileSync(join(bundle(), 'inputs.txt'), 'utf8').trim().split('\n');
    expect(made).toMatch(/^[0-9a-f]{64}$/);
    expect(files.sort()).toEqual(readdirSync(bundle()).filter((name) => name !== 'inputs.txt').sort());
    expect(greets()).toBe('hello\n');

    // Nothing changed: no file of the bundle written again, inputs.txt included (which a build that bundles rewrites).
    const before = written();
    build();
    expect(written()).toEqual(before);
    expect(fingerprint()).toBe(made);

    // A file of the bundle gone (a chunk deleted by hand): bundled again, the same file back.
    const chunk = files.find((name) => name.startsWith('greeting-') && name.endsWith('.cjs'))!;
    expect(chunk).toBeDefined();
    const text = readFileSync(join(bundle(), chunk), 'utf8');
    rmSync(join(bundle(), chunk));
    build();
    expect(readFileSync(join(bundle(), chunk), 'utf8')).toBe(text);
    expect(fingerprint()).toBe(made);

    // An input changed (a source, so tsc's JavaScript): another fingerprint, the bundle made again from it.
    writeFileSync(join(tree, 'rpc', 'cli', 'greeting.ts'), "export const greeting = (): string => 'hello again\\n';\n");
    build();
    expect(fingerprint()).not.toBe(made);
    expect(existsSync(join(bundle(), chunk))).toBe(false);
    expect(greets()).toBe('hello again\n');
    expect(existsSync(join(bundle(), 'build-id.txt'))).toBe(true);
  }, 120_000);
});
