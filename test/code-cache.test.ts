/**
 * The `mai` bin on Node compiles its bundle through V8's code cache (rpc/code-cache.ts): the built
 * bin, launched for real with its own cache folder (XDG_CACHE_HOME), writes the entries once and
 * compiles from them the next time; damaged or foreign entries, and a cache folder that cannot be
 * made, cost only the cache; code compiled from the cache still import()s (the config's own scorer).
 * MAI_LOG=debug makes the bin say on stderr what it read and wrote.
 * On Deno the bin imports the ES modules (Deno caches their compiled code itself) and writes nothing.
 */
import { cpSync, existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeCacheDir } from '../rpc/code-cache-folder.ts';
import { tempDir, writeConfig, type TempDir } from './support/harness.ts';
import { startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';
import { binPath, loopbackConfig, repoRoot, runCli } from './support/rpc-client.ts';

const onDeno = 'Deno' in globalThis;
const bundleDir = dirname(binPath);
const build = readFileSync(join(bundleDir, 'build-id.txt'), 'utf8').trim();
/** The bin's line: "<hits> of <loaded> chunks compiled from the code cache in <dir> (<rejected> entries rejected, <n> KiB of bytecode)[; <written> written[, then: <why>]]". */
const report = /\[mai:code-cache\] debug: (\d+) of (\d+) chunks compiled from the code cache in (\S+) \((\d+) entries rejected, \d+ KiB of bytecode\)(?:; (\d+) written(?:, then: (.*))?)?/;

describe('the V8 code cache of the mai bin', () => {
  let server: FakeOpenAIServer;
  let dir: TempDir;
  let config: string;
  beforeAll(async () => {
    server = await startOpenAIServer([{ id: 'alpha', reply: 'cached or not' }]);
    dir = await tempDir('mai-code-cache-');
    // A scorer of the config's own, a module the bundle's code import()s: from cached code too (Node 20 loses a
    // vm.Script's importModuleDynamically when it compiles from another process's cache; rpc/code-cache.ts).
    await writeFile(join(dir.path, 'always-one.js'), `export default { kind: 'scorer', name: 'always-one', create: () => ({ name: 'always-one', score: () => ({ score: 1 }) }) };\n`);
    const yaml = loopbackConfig(server.baseURL).replace('  - use: context-fit\n', '  - use: context-fit\n  - use: ./always-one.js\n');
    expect(yaml).toContain('./always-one.js');
    config = await writeConfig(dir.path, yaml);
  });
  afterAll(async () => {
    await server.close();
    await dir.cleanup();
  });

  /** One real turn (`mai chat`, standalone) with the cache under `cacheHome`; what the bin said about the cache. `bin`: another copy of it. */
  async function turn(cacheHome: string, bin = binPath) {
    const run = await runCli(['chat', '--standalone', '--config', config, 'hello'], { stateDir: join(dir.path, 'state'), env: { XDG_CACHE_HOME: cacheHome, MAI_LOG: 'debug' }, command: [process.execPath, bin] });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('cached or not');
    const line = report.exec(run.stderr);
    if (onDeno) return { stderr: run.stderr, line: null };
    expect(line, run.stderr).not.toBeNull();
    const [, hits, loaded, where, rejected, written, failure] = line!;
    return { stderr: run.stderr, line: { hits: Number(hits), loaded: Number(loaded), where, rejected: Number(rejected), written: written === undefined ? 0 : Number(written), failure } };
  }

  const entries = (folder: string) => readdirSync(folder).filter((name) => name.endsWith('.cjs.v8')).sort();

  /**
   * The first turn of a build with an empty cache (in $XDG_CACHE_HOME = <dir>/fresh) and a copy of the entries it
   * wrote, taken before anything else ran: the cache a later launch of the same build finds, which the tests that
   * start from a written cache copy instead of launching a first turn of their own (a launch checks the writing once).
   */
  let firstTurn: Promise<{ home: string; line: NonNullable<Awaited<ReturnType<typeof turn>>['line']>; written: string }> | undefined;
  const afterFirstTurn = () =>
    (firstTurn ??= (async () => {
      const home = join(dir.path, 'fresh');
      const line = (await turn(home)).line!;
      const written = join(dir.path, 'first-turn-entries');
      cpSync(codeCacheDir(build, bundleDir, { XDG_CACHE_HOME: home }), written, { recursive: true });
      return { home, line, written };
    })());

  it.skipIf(onDeno)('is written by the first launch and compiled from by the second, in $XDG_CACHE_HOME/mai/v8/<build>-<node>-<arch>-<place>', async () => {
    const { home, line: first } = await afterFirstTurn();
    const folder = codeCacheDir(build, bundleDir, { XDG_CACHE_HOME: home });
    expect(folder).toMatch(new RegExp(`^${join(home, 'mai', 'v8', `${build}-node${process.version}-${process.arch}`).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-[0-9a-f]{8}$`));

    expect(first).toMatchObject({ hits: 0, rejected: 0, where: folder, failure: undefined });
    expect(first.loaded).toBeGreaterThan(5);
    expect(first.written).toBe(first.loaded);
    const written = entries(folder);
    expect(written).toHaveLength(first.loaded);
    const bytes = new Map(written.map((name) => [name, readFileSync(join(folder, name))]));

    const second = (await turn(home)).line!;
    // The same chunks, every one from the cache (V8 accepted each entry), none written again.
    expect(second).toMatchObject({ hits: first.loaded, loaded: first.loaded, rejected: 0, written: 0 });
    for (const name of entries(folder)) expect(readFileSync(join(folder, name)).equals(bytes.get(name)!), name).toBe(true);
  });

  it.skipIf(onDeno)('is rewritten once by a process that ran more than the one that wrote it, then only read', async () => {
    const home = join(dir.path, 'grown');
    // `mai --version`, the least a launch runs (an editor's `initialize` alone is another such): a turn's functions are
    // compiled by no one, and most of the chunks a turn needs are not even loaded.
    const version = await runCli(['--version'], { stateDir: join(dir.path, 'state'), env: { XDG_CACHE_HOME: home, MAI_LOG: 'debug' } });
    expect(version.code, version.stderr).toBe(0);
    const first = report.exec(version.stderr);
    expect(Number(first?.[2]), version.stderr).toBeGreaterThan(0);
    expect(first?.[5], version.stderr).toBe(first?.[2]); // every chunk it loaded written
    const entry = join(codeCacheDir(build, bundleDir, { XDG_CACHE_HOME: home }), 'mai.cjs.v8');
    const small = readFileSync(entry);
    // A turn compiles more (the pipeline, the backend's streaming): the chunks it shares with that run are rewritten with it.
    const turned = (await turn(home)).line!;
    expect(turned.hits).toBeGreaterThan(0);
    expect(turned.written).toBeGreaterThanOrEqual(turned.hits);
    expect(readFileSync(entry).equals(small)).toBe(false);
    // The next turn has all of it from the cache: nothing to add, nothing written.
    expect((await turn(home)).line).toMatchObject({ hits: turned.loaded, rejected: 0, written: 0 });
  });

  it.skipIf(onDeno)('survives truncated, damaged and foreign entries, and replaces them', async () => {
    const home = join(dir.path, 'damaged');
    const folder = codeCacheDir(build, bundleDir, { XDG_CACHE_HOME: home });
    // A first turn's entries, each then damaged in one of four ways.
    const { line: first, written } = await afterFirstTurn();
    cpSync(written, folder, { recursive: true });
    const names = entries(folder);
    expect(names.length).toBe(first.loaded);
    const sizes = names.map((name) => readFileSync(join(folder, name)).length);
    const largest = names[sizes.indexOf(Math.max(...sizes))]!;
    const other = names.find((name) => name !== largest)!;
    const damaged = new Map<string, Buffer>();
    names.forEach((name, i) => {
      const good = readFileSync(join(folder, name));
      let bad: Buffer;
      if (name === largest) {
        bad = Buffer.from(good);
        bad[Math.floor(bad.length / 2)]! ^= 0xff; // one byte flipped mid-payload
      } else if (name === other) {
        bad = readFileSync(join(folder, largest)); // a whole, valid entry of another chunk: V8 rejects it
      } else if (i % 2 === 0) {
        bad = good.subarray(0, Math.floor(good.length / 3)); // truncated
      } else {
        bad = Buffer.from('not a V8 code cache\n'); // garbage
      }
      writeFileSync(join(folder, name), bad);
      damaged.set(name, bad);
    });

    const survived = (await turn(home)).line!;
    expect(survived).toMatchObject({ hits: 0, loaded: first.loaded, rejected: first.loaded, written: first.loaded, failure: undefined });
    for (const name of entries(folder)) expect(readFileSync(join(folder, name)).equals(damaged.get(name)!), `${name} was replaced`).toBe(false);
    // (That entries written over others are then read, every one accepted, is the last turn of the test above.)
  });

  /** A second install of this build: a copy of the checkout's bundle at another path (its source maps left out: two thirds of its bytes, nothing a run reads). */
  const secondInstall = () => {
    const pkg = join(dir.path, 'pkg');
    if (!existsSync(pkg)) {
      cpSync(join(repoRoot, 'dist', 'bundle'), join(pkg, 'dist', 'bundle'), { recursive: true, filter: (from) => !from.endsWith('.map') });
      cpSync(join(repoRoot, 'package.json'), join(pkg, 'package.json'));
      symlinkSync(join(repoRoot, 'node_modules'), join(pkg, 'node_modules'));
    }
    return { pkg, bin: join(pkg, 'dist', 'bundle', 'mai.js') };
  };

  it.skipIf(onDeno)('is kept apart for each install of a build: code from an entry keeps its writer\'s file names', async () => {
    // The checkout's entries in a cache home, then the same build installed at another path run with that home.
    const home = join(dir.path, 'two-installs');
    cpSync((await afterFirstTurn()).written, codeCacheDir(build, bundleDir, { XDG_CACHE_HOME: home }), { recursive: true });
    const { bin } = secondInstall();
    const run = await runCli(['--version'], { stateDir: join(dir.path, 'state'), env: { XDG_CACHE_HOME: home, MAI_LOG: 'debug' }, command: [process.execPath, bin] });
    expect(run.code, run.stderr).toBe(0);
    const [, hits, loaded, where] = report.exec(run.stderr) ?? [];
    // Its own folder, and none of the checkout's entries read (their stack traces would name the checkout's files).
    expect(where).toBe(codeCacheDir(build, dirname(bin), { XDG_CACHE_HOME: home }));
    expect(where).not.toBe(codeCacheDir(build, bundleDir, { XDG_CACHE_HOME: home }));
    expect([Number(hits), Number(loaded) > 0], run.stderr).toEqual([0, true]);
  });

  it.skipIf(onDeno)('does not run the old code of a chunk changed in place under the same build id and length', async () => {
    // An install whose files changed without a new build (the case test/host-build.test.ts names a broken install):
    // V8 itself compares only the source's length, so the entry also carries the source's checksum.
    const { pkg, bin } = secondInstall();
    const home = join(dir.path, 'edited');
    // The cache a first turn of this install wrote before its edit (the copy's chunks are the checkout's, byte for byte).
    cpSync((await afterFirstTurn()).written, codeCacheDir(build, dirname(bin), { XDG_CACHE_HOME: home }), { recursive: true });
    // A message of the entry chunk, edited to another of the same length: the bin must say the new one.
    const entry = join(pkg, 'dist', 'bundle', 'mai.cjs');
    const text = readFileSync(entry, 'utf8');
    expect(text).toContain('unknown command "');
    writeFileSync(entry, text.replace('unknown command "', 'UNKNOWN command "'));
    const run = await runCli(['frobnicate'], { stateDir: join(dir.path, 'state'), env: { XDG_CACHE_HOME: home, MAI_LOG: 'debug' }, command: [process.execPath, bin] });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('UNKNOWN command "frobnicate"');
    const [, hits, loaded, , rejected, written] = report.exec(run.stderr) ?? [];
    // Only the edited chunk was compiled afresh (and its entry replaced); the others came from the cache.
    expect([Number(loaded) - Number(hits), Number(rejected), Number(written)], run.stderr).toEqual([1, 1, 1]);
  });

  it.skipIf(onDeno)('runs as without it when its folder cannot be made', async () => {
    // XDG_CACHE_HOME names a file: no folder can be made under it (root ignores permission bits; ENOTDIR it does not).
    const home = join(dir.path, 'a-file');
    writeFileSync(home, 'not a folder\n');
    // `mai --version`: its chunks compiled without entries, as the first turn above had them, then the write at its exit
    // fails (a turn would load more chunks and fail the same write, the one thing this checks).
    const version = (debug: boolean) => runCli(['--version'], { stateDir: join(dir.path, 'state'), env: { XDG_CACHE_HOME: home, ...(debug ? { MAI_LOG: 'debug' } : {}) } });
    const said = await version(true);
    expect(said.code, said.stderr).toBe(0);
    expect(said.stdout).toMatch(/^\d+\.\d+\.\d+/);
    const [, hits, loaded, , , written, failure] = report.exec(said.stderr) ?? [];
    expect(Number(loaded), said.stderr).toBeGreaterThan(0);
    expect([Number(hits), Number(written)]).toEqual([0, 0]);
    expect(failure).toMatch(/ENOTDIR/);
    // Only the debug line speaks of it: at Mai's default log level the run says nothing about the cache.
    const quiet = await version(false);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stdout).toBe(said.stdout);
    expect(quiet.stderr).toBe('');
  });

  it.skipIf(!onDeno)('is Node’s: on Deno the bin imports the ES modules and writes no entry', async () => {
    const home = join(dir.path, 'deno');
    const { stderr } = await turn(home);
    expect(stderr).not.toContain('[mai:code-cache]');
    expect(existsSync(join(home, 'mai'))).toBe(false);
  });
});
