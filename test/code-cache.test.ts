/**
 * The `mai` bin on Node compiles its bundle through V8's code cache (rpc/code-cache.ts): the built
 * bin, launched for real with its own cache folder (XDG_CACHE_HOME), writes the entries once and
 * compiles from them the next time; damaged or foreign entries, and a cache folder that cannot be
 * made, cost only the cache. MAI_LOG=debug makes the bin say on stderr what it read and wrote.
 * On Deno the bin imports the ES modules (Deno caches their compiled code itself) and writes nothing.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeCacheDir } from '../rpc/code-cache.ts';
import { tempDir, writeConfig, type TempDir } from './support/harness.ts';
import { startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';
import { binPath, loopbackConfig, runCli } from './support/rpc-client.ts';

const onDeno = 'Deno' in globalThis;
const build = readFileSync(join(binPath, '..', 'build-id.txt'), 'utf8').trim();
/** The bin's line: "<hits> of <loaded> chunks compiled from the code cache in <dir> (<rejected> entries rejected)[; <written> written[, then: <why>]]". */
const report = /\[mai:code-cache\] debug: (\d+) of (\d+) chunks compiled from the code cache in (\S+) \((\d+) entries rejected\)(?:; (\d+) written(?:, then: (.*))?)?/;

describe('the V8 code cache of the mai bin', () => {
  let server: FakeOpenAIServer;
  let dir: TempDir;
  let config: string;
  beforeAll(async () => {
    server = await startOpenAIServer([{ id: 'alpha', reply: 'cached or not' }]);
    dir = await tempDir('mai-code-cache-');
    config = await writeConfig(dir.path, loopbackConfig(server.baseURL));
  });
  afterAll(async () => {
    await server.close();
    await dir.cleanup();
  });

  /** One real turn (`mai chat`, standalone) with the cache under `cacheHome`; what the bin said about the cache. */
  async function turn(cacheHome: string) {
    const run = await runCli(['chat', '--standalone', '--config', config, 'hello'], { stateDir: join(dir.path, 'state'), env: { XDG_CACHE_HOME: cacheHome, MAI_LOG: 'debug' } });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('cached or not');
    const line = report.exec(run.stderr);
    if (onDeno) return { stderr: run.stderr, line: null };
    expect(line, run.stderr).not.toBeNull();
    const [, hits, loaded, where, rejected, written, failure] = line!;
    return { stderr: run.stderr, line: { hits: Number(hits), loaded: Number(loaded), where, rejected: Number(rejected), written: written === undefined ? 0 : Number(written), failure } };
  }

  const entries = (folder: string) => readdirSync(folder).filter((name) => name.endsWith('.cjs.v8')).sort();

  it.skipIf(onDeno)('is written by the first launch and compiled from by the second, in $XDG_CACHE_HOME/mai/v8/<build>-<node>-<arch>', async () => {
    const home = join(dir.path, 'fresh');
    const folder = codeCacheDir(build, { XDG_CACHE_HOME: home });
    expect(folder).toBe(join(home, 'mai', 'v8', `${build}-node${process.version}-${process.arch}`));

    const first = (await turn(home)).line!;
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

  it.skipIf(onDeno)('survives truncated, damaged and foreign entries, and replaces them', async () => {
    const home = join(dir.path, 'damaged');
    const folder = codeCacheDir(build, { XDG_CACHE_HOME: home });
    const first = (await turn(home)).line!;
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

    const again = (await turn(home)).line!;
    expect(again).toMatchObject({ hits: first.loaded, rejected: 0, written: 0 });
  });

  it.skipIf(onDeno)('runs as without it when its folder cannot be made', async () => {
    // XDG_CACHE_HOME names a file: no folder can be made under it (root ignores permission bits; ENOTDIR it does not).
    const home = join(dir.path, 'a-file');
    writeFileSync(home, 'not a folder\n');
    const run = (await turn(home)).line!;
    expect(run).toMatchObject({ hits: 0, written: 0 });
    expect(run.failure).toMatch(/ENOTDIR/);
    // Only the debug line speaks of it: at Mai's default log level the run says nothing about the cache.
    const quiet = await runCli(['chat', '--standalone', '--config', config, 'hello'], { stateDir: join(dir.path, 'state'), env: { XDG_CACHE_HOME: home } });
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stdout).toContain('cached or not');
    expect(quiet.stderr).not.toMatch(/code-cache|ENOTDIR/);
  });

  it.skipIf(!onDeno)('is Node’s: on Deno the bin imports the ES modules and writes no entry', async () => {
    const home = join(dir.path, 'deno');
    const { stderr } = await turn(home);
    expect(stderr).not.toContain('[mai:code-cache]');
    expect(existsSync(join(home, 'mai'))).toBe(false);
  });
});
