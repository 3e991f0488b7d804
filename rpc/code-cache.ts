/**
 * The bundle's CommonJS build (dist/bundle/*.cjs) loaded through a V8 code cache, on Node.
 * Node 20 keeps no compiled code between runs (module.enableCompileCache is Node 22's), so each
 * `mai` compiled its chunks again: ~0.1–0.2 CPU-s of every launch. Here each chunk is compiled as a
 * `vm.Script` given the code V8 cached for it in an earlier run, and the process, once used (at its
 * normal exit), caches the chunks that had none: top level and the functions the run compiled lazily
 * (a later process that compiled much more rewrites it: GROWTH).
 * A dynamic import of another chunk runs it (and what it needs) between turns of the event loop, as
 * Node's import() of ES modules does.
 * Why not the v8-compile-cache package: it compiles without `importModuleDynamically`, so an
 * `import()` inside the cached code fails, and Mai imports ESM-only packages that way (node-llama-cpp).
 * Nor importModuleDynamically here: Node 20 loses it when a script is compiled from a code cache
 * another process wrote. The build (scripts/build.js) writes each chunk as a function of what a
 * CommonJS module is given and of `dynImp`, which each `import()` of the chunk calls: the bin's own
 * `import()`, an ES module's.
 * The cache is a speed-up only: a missing, unreadable, truncated or foreign entry (V8 rejects it) means
 * compiling as without it, and an entry that cannot be written is not written. One folder per
 * build × Node version × architecture × install (its folder) under $XDG_CACHE_HOME/mai/v8 (default ~/.cache/mai/v8);
 * each entry written to a temporary file and renamed, so processes writing one entry at once each
 * leave a whole one. MAI_LOG=debug says what was read and written, on stderr.
 * Zod-free and Mai-free: the thin `mai serve` forwarder loads it.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire, Module } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { crc32 } from 'node:zlib';
import { codeCacheDir, entryBytes, pruneOtherBuilds, readEntry } from './code-cache-folder.ts';

/** A chunk's static dependencies: the build's only `require`s of chunks, each at a chunk's top level (its dynamic ones are `dynImp` calls; scripts/build.js fails on a require of a chunk inside a function). */
const STATIC_CHUNK = /\brequire\("(\.\/[^"/]+\.cjs)"\)/g;

interface Chunk {
  script: vm.Script;
  sourceCrc: number;
  entry: string;
  /** From the cache; else why not: none yet, or one found damaged (a bad checksum) or rejected by V8 (another build of V8, other flags). */
  state: 'cached' | 'missing' | 'rejected';
  /** The bytecode in the heap of the process that wrote the entry it was compiled from (0: none). */
  writerBytecode: number;
}

/**
 * An entry is rewritten by a process that ends with at least this much more bytecode in its heap than
 * the process that wrote it (`mai serve` answering a turn: ~70 KiB more than answering `initialize`
 * alone, of ~1.3 MiB; two runs of one kind differ by ~1 KiB): it compiled functions the entry lacks (V8 caches every function a script
 * has compiled, those it got from the cache included, so the entry grows to what both ran). The first
 * process of a build may have run little (`mai --version`, an `initialize` alone): without this a
 * turn's functions would never be cached. A process given the fuller entry has its functions in the
 * heap from the start, so the entries settle after a few runs and are then only read.
 */
const GROWTH = 32 * 1024;

/**
 * The exports of the CommonJS entry `entry` (a file URL), its chunks compiled through the code cache;
 * `dynImp`: the `import()` the chunks use (the caller's: an ES module's, beside the chunks).
 * Undefined when this runtime should load the ESM bundle instead: Deno (it caches compiled modules
 * itself), no CommonJS build beside, or a Node before 20.19 (tinypool is ESM-only: the CommonJS
 * build needs require(esm); 20.19 also has zlib.crc32).
 */
export function loadCachedBundle(entry: URL, dynImp: (specifier: string) => Promise<unknown>): unknown {
  if ('Deno' in globalThis) return undefined;
  if (!(process.features as { require_module?: boolean }).require_module || typeof crc32 !== 'function') return undefined;
  const file = fileURLToPath(entry);
  if (!existsSync(file)) return undefined;
  const bundle = dirname(file);
  let build: string | undefined;
  try {
    build = readFileSync(join(bundle, 'build-id.txt'), 'utf8').trim() || undefined;
  } catch {
    // no id: no cache (nothing would say which build an entry belongs to)
  }
  return new CodeCache(bundle, build === undefined ? undefined : codeCacheDir(build, bundle), dynImp).require(file);
}

/** A chunk's file: its text and the checksum of it that keys its entry. */
interface ChunkFile {
  text: string;
  crc: number;
}

function readChunk(file: string): ChunkFile {
  try {
    // Read as text (no Buffer: a long-lived host would keep ~1.4 MB of them until a full GC).
    const text = readFileSync(file, 'utf8');
    return { text, crc: crc32(text) };
  } catch (error) {
    // As Node's require says it: a chunk a rebuild removed under a running host (rpc/host/ tells it apart by the code).
    throw (error as NodeJS.ErrnoException).code === 'ENOENT' ? Object.assign(new Error(`Cannot find module '${file}'`, { cause: error }), { code: 'MODULE_NOT_FOUND' }) : error;
  }
}

class CodeCache {
  private readonly chunks: Chunk[] = [];
  private readonly debug = process.env.MAI_LOG?.toLowerCase() === 'debug';
  /** Node's require from the bundle's folder (every chunk is in it): for Node's built-ins and tinypool; its cache is require.cache. */
  private readonly nodeRequire: NodeJS.Require;
  /** Chunks a dynamic import has read ahead, not yet run. */
  private readonly readAhead = new Map<string, ChunkFile>();
  /** The `require` each chunk is given: another chunk (./name.cjs) by this loader, anything else by Node's. */
  private readonly chunkRequire: NodeJS.Require;
  /** The `dynImp` each chunk is given: another chunk by importChunk, anything else by the bin's import(). */
  private readonly chunkImport = (specifier: string): Promise<unknown> =>
    specifier.startsWith('./') && specifier.endsWith('.cjs') ? this.importChunk(join(this.bundle, specifier)) : this.dynImp(specifier);

  constructor(
    private readonly bundle: string,
    private readonly dir: string | undefined,
    private readonly dynImp: (specifier: string) => Promise<unknown>,
  ) {
    this.nodeRequire = createRequire(join(bundle, 'mai.cjs'));
    this.chunkRequire = Object.assign((id: string) => (id.startsWith('./') && id.endsWith('.cjs') ? this.require(join(this.bundle, id)) : this.nodeRequire(id)), this.nodeRequire);
    if (dir !== undefined) process.once('exit', () => this.write());
  }

  /** Loads one chunk of the bundle as Node loads a CommonJS module (it is in require.cache), its code compiled through the cache. */
  require(file: string): unknown {
    const known = this.nodeRequire.cache[file];
    if (known) return known.exports;
    const { text, crc: sourceCrc } = this.readAhead.get(file) ?? readChunk(file);
    this.readAhead.delete(file);
    const entry = this.dir === undefined ? '' : join(this.dir, `${basename(file)}.v8`);
    const found = entry === '' ? 'missing' : readEntry(entry, sourceCrc);
    const cachedData = typeof found === 'string' ? undefined : found.data;
    // The chunk is the function to run (the build wrote it so: scripts/build.js's loaderChunks), as Node wraps a CommonJS module.
    const script = new vm.Script(text, { filename: file, ...(cachedData ? { cachedData } : {}) });
    const state = typeof found === 'string' ? found : script.cachedDataRejected ? 'rejected' : 'cached';
    this.chunks.push({ script, sourceCrc, entry, state, writerBytecode: state === 'cached' && typeof found !== 'string' ? found.writerBytecode : 0 });
    const module = new Module(file);
    module.filename = file;
    this.nodeRequire.cache[file] = module;
    const run = script.runInThisContext() as (...args: unknown[]) => void;
    try {
      run.call(module.exports, module.exports, this.chunkRequire, module, file, this.bundle, this.chunkImport);
    } catch (error) {
      delete this.nodeRequire.cache[file];
      throw error;
    }
    module.loaded = true;
    return module.exports;
  }

  /**
   * A dynamic import of a chunk, as Node's ES module loader does one: the chunk and the chunks it needs
   * run dependencies first, the event loop turning between two. A `require` would run them all in one
   * synchronous go: what arrives meanwhile (a client's `initialize`, which `mai serve` answers while
   * Mai's modules load) would wait for all of them. (Read at once: the yield is what counts, not the reads.)
   */
  private async importChunk(file: string): Promise<unknown> {
    const order: string[] = [];
    const seen = new Set<string>();
    const visit = (at: string): void => {
      if (seen.has(at) || this.nodeRequire.cache[at]) return;
      seen.add(at);
      try {
        const chunk = this.readAhead.get(at) ?? readChunk(at);
        this.readAhead.set(at, chunk);
        for (const [, dependency] of chunk.text.matchAll(STATIC_CHUNK)) visit(join(this.bundle, dependency!));
      } catch {
        // unreadable: require says why, as Node's would
      }
      order.push(at);
    };
    visit(file);
    for (const at of order) {
      await new Promise((resolve) => setImmediate(resolve));
      this.require(at);
    }
    return this.require(file);
  }

  /** Caches each loaded chunk that had no (accepted) entry, or one a process with GROWTH less bytecode wrote; never throws. */
  private write(): void {
    const dir = this.dir;
    const hits = this.chunks.filter((chunk) => chunk.state === 'cached').length;
    const rejected = this.chunks.filter((chunk) => chunk.state === 'rejected').length;
    // node:v8 loaded here, at exit: ~3 ms a process that every launch (the forwarder's too) would pay at its start.
    const { getHeapCodeStatistics } = this.nodeRequire('node:v8') as typeof import('node:v8');
    const bytecode = getHeapCodeStatistics().bytecode_and_metadata_size;
    const due = this.chunks.filter((chunk) => chunk.state !== 'cached' || bytecode > chunk.writerBytecode + GROWTH);
    const read = `${hits} of ${this.chunks.length} chunks compiled from the code cache in ${dir} (${rejected} entries rejected, ${(bytecode / 1024).toFixed(0)} KiB of bytecode)`;
    if (dir === undefined || due.length === 0) {
      this.say(read);
      return;
    }
    let written = 0;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      for (const chunk of due) {
        const temp = `${chunk.entry}.${process.pid}.tmp`;
        try {
          writeFileSync(temp, entryBytes(chunk.sourceCrc, chunk.script.createCachedData(), bytecode), { mode: 0o600 });
          renameSync(temp, chunk.entry);
          written++;
        } catch (error) {
          rmSync(temp, { force: true });
          throw error;
        }
      }
      pruneOtherBuilds(dir);
      this.say(`${read}; ${written} written`);
    } catch (error) {
      this.say(`${read}; ${written} written, then: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private say(text: string): void {
    if (!this.debug) return;
    try {
      process.stderr.write(`[mai:code-cache] debug: ${text}\n`);
    } catch {
      // a closed stderr
    }
  }
}
