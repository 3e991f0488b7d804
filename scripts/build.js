#!/usr/bin/env node
/**
 * `npm run build`: compiles the sources to dist/ file by file (`tsc -b tsconfig.build.json`), then
 * bundles the `mai` bin with rolldown into dist/bundle/ (package.json's bin: dist/bundle/mai.js).
 * Why bundle: on Node 20 most of a cold start is the ESM loader resolving, reading and linking
 * each module file — zod alone is ~95 of them, vscode-jsonrpc ~30, Mai ~40 before `mai serve
 * --standalone` answers initialize — and a bundle is a handful of files with the same code.
 * The bundle is split at every dynamic import, as the sources are, so the thin `mai serve`
 * forwarder still loads neither zod nor the server (test/host-forwarder-lean.test.ts reads the
 * chunks' source maps to check it). Kept as files of their own: the sampling worker (its own
 * entry beside the chunks, which load it by `new URL('./sample.worker.js', import.meta.url)`),
 * tinypool (it starts its workers from its own files) and the optional, native node-llama-cpp.
 * The command line (rpc/cli/run.ts, which rpc/bin.ts imports) is bundled a second time as CommonJS
 * (*.cjs beside the ES modules, the same splitting, with source maps): dist/bundle/mai.js (rpc/bin.ts) runs it on Node through V8's code
 * cache (rpc/code-cache.ts: Node 20 keeps no compiled code between runs, and a vm.Script, which takes
 * a cache, is CommonJS-shaped); Deno, and Node before 20.19, import the ES modules. In that build
 * each chunk is the function the loader compiles, every dynamic import in it a call of the loader's
 * `dynImp` (loaderChunks says why), and
 * tinypool, ESM-only, is require()d for its default export (esmOnlyDefault).
 * dist/ keeps the per-file output too (declarations, the worker's sources, `import` by path);
 * Deno runs the TypeScript sources and needs neither.
 *
 *   node scripts/build.js          (npm run build; exits with tsc's code, after bundling what it emitted;
 *                                   a rebuild that changes nothing rewrites no file of the bundle, and does not
 *                                   bundle at all when dist/bundle/inputs.txt names the same inputs)
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What each chunk of the CommonJS build is: a function of what a CommonJS module gets, and dynImp (rpc/code-cache.ts). */
const LOADER_WRAPPER = '(function (exports, require, module, __filename, __dirname, dynImp) { ';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const out = join(dist, 'bundle');

// tsc only emits (tsconfig.build.json: noCheck; `npm run typecheck` is the type check), and as `tsc -b` it finds an
// unchanged tree up to date from dist/.tsbuildinfo without parsing it; --force when the entry was deleted by hand
// (tsc -b does not notice a missing output). The tsc is TypeScript 7's, the native compiler (the `typescript7`
// devDependency, an npm alias of typescript@7): the same JavaScript out, in a tenth of the CPU time of TypeScript 5.9.
// An install without optional dependencies (the README's lean install: `npm install --omit=optional`) has neither
// TypeScript 7's platform binary nor rolldown's native binding: it builds with TypeScript 5.9's tsc, and dist/bundle/mai.js
// then runs the per-file dist/ (the same code, a slower cold start), each said on stderr.
const force = existsSync(join(dist, 'rpc', 'bin.js')) ? [] : ['--force'];
const native = join(root, 'node_modules', 'typescript7', 'bin', 'tsc');
// Found as TypeScript 7's own launcher finds it (its lib/getExePath.js), rather than by starting it once more.
const hasNative = (() => {
  try {
    createRequire(join(root, 'node_modules', 'typescript7', 'package.json')).resolve(`@typescript/typescript-${process.platform}-${process.arch}/package.json`);
    return true;
  } catch {
    return false;
  }
})();
if (!hasNative) process.stderr.write("build: TypeScript 7's native tsc is not installed (an install without optional dependencies): compiling with TypeScript 5.9's, slower, the same JavaScript.\n");
const tscBin = hasNative ? native : join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const tsc = spawnSync(process.execPath, [tscBin, '-b', 'tsconfig.build.json', ...force], { cwd: root, stdio: 'inherit' });

// Written beside, then moved in file by file: a file whose content is unchanged is left alone (chunk
// names carry a hash of their content), so a rebuild that changes nothing touches nothing that a
// running `mai` (a test's, a host) may still import; changed files replace theirs in one rename each,
// and the files no longer part of the bundle go.
const next = `${out}.next`;
rmSync(next, { recursive: true, force: true });
// An unchanged tree is not bundled again: when tsc's JavaScript in dist/ (outside the bundle), package-lock.json and this
// script are what the bundle in dist/bundle/ was made from (its INPUTS file), and every file of it is there, rolldown's two
// passes (~1.5 CPU-s, on the way of every `npm test` and `npx vitest`) are skipped.
const INPUTS = 'inputs.txt';
const inputs = bundleInputs();
if (tsc.status === 0 && bundledFrom(inputs)) process.exit(0);
const rolldown = await import('rolldown').then((module) => module.rolldown, () => null);
const { parseAst } = rolldown ? await import('rolldown/parseAst') : { parseAst: () => null };
if (rolldown) {
  const bundle = await rolldown({
    cwd: root,
    input: { mai: join(dist, 'rpc', 'bin.js'), 'sample.worker': join(dist, 'core', 'monitor', 'sample.worker.js') },
    platform: 'node',
    external: ['tinypool', /^node-llama-cpp(\/|$)/],
  });
  await bundle.write({ dir: next, format: 'esm', entryFileNames: '[name].js', chunkFileNames: '[name]-[hash].js', sourcemap: true });
  await bundle.close();
  // The same code as CommonJS (*.cjs: package.json says "type": "module"), which Node runs through V8's code cache
  // (rpc/code-cache.ts; a vm.Script is CommonJS-shaped); its entry is what bin.ts imports on Deno (rpc/cli/run.ts).
  const cjs = await rolldown({
    cwd: root,
    input: { mai: join(dist, 'rpc', 'cli', 'run.js') },
    platform: 'node',
    external: [/^node-llama-cpp(\/|$)/],
    plugins: [esmOnlyDefault('tinypool'), loaderChunks()],
  });
  // Each chunk written as the function the loader compiles (LOADER_WRAPPER, on its first line: its later lines keep their
  // place in the source map). Wrapped by the loader instead, each chunk's text was held twice until a full GC: ~2.4 MiB of a host.
  await cjs.write({ dir: next, format: 'cjs', entryFileNames: '[name].cjs', chunkFileNames: '[name]-[hash].cjs', sourcemap: true, postBanner: LOADER_WRAPPER, postFooter: '\n})' });
  await cjs.close();
} else {
  process.stderr.write("build: rolldown's native binding is not installed (an install without optional dependencies): the mai bin runs dist/rpc/bin.js unbundled, a slower cold start; a full `npm install` bundles it.\n");
  mkdirSync(next, { recursive: true });
  writeFileSync(join(next, 'mai.js'), "#!/usr/bin/env node\n// Unbundled (scripts/build.js found no rolldown binding): the per-file build.\nimport '../rpc/bin.js';\n");
}
/**
 * An ESM-only package's default export, in the CommonJS build, kept external: Node (>= 20.19) require()s it as its
 * module namespace, which rolldown's interop would take whole for the default export (`new Tinypool()` of a
 * namespace). tinypool stays a file of its own: it starts its workers from its own files.
 * @param {string} name
 * @returns {import('rolldown').Plugin}
 */
function esmOnlyDefault(name) {
  const id = `\0esm-only-default:${name}`;
  return {
    name: 'esm-only-default',
    resolveId: (/** @type {string} */ source) => (source === name ? id : null),
    load: (/** @type {string} */ loaded) => (loaded === id ? `import { createRequire } from 'node:module';\nexport default createRequire(import.meta.url)(${JSON.stringify(name)}).default;\n` : null),
  };
}

/**
 * Every dynamic import of the CommonJS build becomes a call of `dynImp`, the import function rpc/code-cache.ts
 * passes to each chunk (on the line of an edit the source map's later columns move; its lines and sources stay):
 * - one of another chunk, which rolldown writes `Promise.resolve().then(() => require("./x.cjs"))` (of a
 *   CommonJS package's chunk, `Promise.resolve().then(() => __toESM(require("./x.cjs").default, 1))`): a
 *   `require` would load the chunk and all it needs in one synchronous go, where Node's import() of the ES
 *   modules reads them one at a time and the event loop turns in between: `mai serve` answers `initialize`
 *   while Mai's modules load (rpc/cli/serve.ts), and did not, ~100 ms later, with the requires. And the
 *   loader takes every `require("./x.cjs")` left in a chunk for a static dependency, run with the chunk: the
 *   `import('proper-lockfile')` the forwarder makes only to start a host, left as such a require, ran
 *   proper-lockfile in every forwarder (graceful-fs patching fs, signal-exit hooking every signal, 43 KB of
 *   source). So a chunk's require left inside a function fails the build;
 * - an `import()` left as such (node:fs, node-llama-cpp, a config's plugin module): a vm.Script's import()
 *   needs importModuleDynamically, which Node 20 drops from a script compiled from a code cache another
 *   process wrote ("A dynamic import callback was not specified"); dynImp is the bin's own import().
 * @returns {import('rolldown').Plugin}
 */
function loaderChunks() {
  /** @typedef {{ type?: string, start: number, end: number, [key: string]: unknown }} Node */
  /** @param {unknown} node @returns {node is Node} */
  const isNode = (node) => !!node && typeof node === 'object' && typeof (/** @type {Node} */ (node).type) === 'string';
  /** `require("./x.cjs")` → "./x.cjs" @param {Node | undefined} node */
  const chunkRequire = (node) => {
    if (node?.type !== 'CallExpression' || /** @type {Node} */ (node['callee'])['name'] !== 'require') return undefined;
    const required = /** @type {Node[]} */ (node['arguments'])[0];
    return required?.type === 'Literal' && typeof required['value'] === 'string' && /^\.\/[^/]+\.cjs$/.test(required['value']) ? required['value'] : undefined;
  };
  /** The chunk requires under a node. @param {unknown} node @param {Node[]} found */
  const requiresIn = (node, found = []) => {
    if (Array.isArray(node)) for (const item of node) requiresIn(item, found);
    else if (isNode(node) && chunkRequire(node) !== undefined) found.push(node);
    else if (node && typeof node === 'object') for (const value of Object.values(node)) if (value && typeof value === 'object') requiresIn(value, found);
    return found;
  };
  /**
   * `Promise.resolve().then(() => BODY)`, BODY holding one chunk's require, → the edit that makes it
   * `dynImp("./x.cjs")`, or `dynImp("./x.cjs").then((chunk) => BODY)` with the require read as `chunk`.
   * @param {Node} node @param {string} code
   */
  const chunkImport = (node, code) => {
    const callee = /** @type {Node} */ (node['callee']);
    const args = /** @type {Node[]} */ (node['arguments']);
    if (callee?.type !== 'MemberExpression' || /** @type {Node} */ (callee['property'])['name'] !== 'then' || args.length !== 1) return undefined;
    const inner = /** @type {Node} */ (callee['object']);
    const resolve = inner.type === 'CallExpression' ? /** @type {Node} */ (inner['callee']) : undefined;
    if (resolve?.type !== 'MemberExpression' || /** @type {Node} */ (resolve['object'])['name'] !== 'Promise' || /** @type {Node} */ (resolve['property'])['name'] !== 'resolve') return undefined;
    const arrow = args[0];
    const body = arrow?.type === 'ArrowFunctionExpression' ? /** @type {Node} */ (arrow['body']) : undefined;
    const [required, ...more] = body ? requiresIn(body) : [];
    const chunk = chunkRequire(required);
    if (!body || !required || chunk === undefined || more.length > 0) return undefined;
    const call = `dynImp(${JSON.stringify(chunk)})`;
    if (required === body) return { start: node.start, end: node.end, text: call };
    const text = code.slice(body.start, body.end);
    let name = 'chunk';
    while (text.includes(name)) name += '$';
    const read = `${text.slice(0, required.start - body.start)}${name}${text.slice(required.end - body.start)}`;
    return { start: node.start, end: node.end, text: `${call}.then((${name}) => ${read})` };
  };
  const functions = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression']);
  /**
   * @param {unknown} node @param {Array<{ start: number, end: number, text: string }>} edits @param {string} code
   * @param {string} file @param {number} depth how many functions the node is in
   */
  const walk = (node, edits, code, file, depth) => {
    if (Array.isArray(node)) {
      for (const item of node) walk(item, edits, code, file, depth);
      return;
    }
    if (!node || typeof node !== 'object') return;
    if (isNode(node)) {
      if (node.type === 'ImportExpression') {
        edits.push({ start: node.start, end: node.start + 'import'.length, text: 'dynImp' });
      } else if (node.type === 'CallExpression') {
        const edit = chunkImport(node, code);
        if (edit !== undefined) {
          edits.push(edit);
          return;
        }
        const chunk = chunkRequire(node);
        if (chunk !== undefined && depth > 0) throw new Error(`build: ${file} requires ${chunk} inside a function, which rpc/code-cache.ts would run with ${file} as a static dependency: a lazy load of a chunk must be an import()`);
      }
    }
    const inner = isNode(node) && functions.has(node.type ?? '') ? depth + 1 : depth;
    for (const value of Object.values(node)) if (value && typeof value === 'object') walk(value, edits, code, file, inner);
  };
  return {
    name: 'loader-chunks',
    renderChunk(code, chunk) {
      if (code.includes('dynImp')) throw new Error(`build: ${chunk.fileName} already names dynImp, the CommonJS build's import function`);
      /** @type {Array<{ start: number, end: number, text: string }>} */
      const edits = [];
      walk(parseAst(code), edits, code, chunk.fileName, 0);
      let out = code;
      for (const edit of edits.sort((a, b) => b.start - a.start)) {
        if (!/^(import|Promise\.resolve\(\))/.test(out.slice(edit.start, edit.end))) throw new Error(`build: ${chunk.fileName}: no dynamic import at ${edit.start}`);
        out = `${out.slice(0, edit.start)}${edit.text}${out.slice(edit.end)}`;
      }
      return edits.length === 0 ? null : { code: out, map: null };
    },
  };
}

// The build's id (rpc/host/build.ts): a hash of the bundle's files, moved in last, once the files it names are there.
const ID = 'build-id.txt';
const id = createHash('sha256');
for (const name of readdirSync(next).sort()) id.update(name).update('\0').update(readFileSync(join(next, name))).update('\0');
writeFileSync(join(next, ID), `${id.digest('hex').slice(0, 16)}\n`);
mkdirSync(out, { recursive: true });
const fresh = new Set(readdirSync(next));
for (const name of [...fresh].filter((n) => n !== ID).concat(ID)) {
  const target = join(out, name);
  if (existsSync(target) && readFileSync(target).equals(readFileSync(join(next, name)))) continue;
  renameSync(join(next, name), target);
}
for (const name of readdirSync(out)) if (!fresh.has(name)) rmSync(join(out, name));
rmSync(next, { recursive: true, force: true });
// Said last, once the bundle is whole; not for the unbundled stand-in, which a later build with rolldown replaces.
if (rolldown) writeFileSync(join(out, INPUTS), [inputs, ...[...fresh].sort()].join('\n') + '\n');
process.exit(tsc.status ?? 1);

/** A hash of what the bundle is made from: this script, package-lock.json (the bundled packages) and dist/'s JavaScript outside the bundle. */
function bundleInputs() {
  const hash = createHash('sha256');
  /** @param {string} file */
  const add = (file) => void hash.update(file.slice(root.length)).update('\0').update(existsSync(file) ? readFileSync(file) : '').update('\0');
  add(fileURLToPath(import.meta.url));
  add(join(root, 'package-lock.json'));
  /** @param {string} folder */
  const walk = (folder) => {
    for (const entry of readdirSync(folder, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) {
        if (path !== out && path !== next) walk(path);
      } else if (entry.name.endsWith('.js')) add(path);
    }
  };
  if (existsSync(dist)) walk(dist);
  return hash.digest('hex');
}

/** True when dist/bundle/ was made from `fingerprint` and holds every file it was made with. @param {string} fingerprint */
function bundledFrom(fingerprint) {
  const file = join(out, INPUTS);
  if (!existsSync(file)) return false;
  const [made, ...files] = readFileSync(file, 'utf8').trim().split('\n');
  return made === fingerprint && files.length > 0 && files.every((name) => existsSync(join(out, name)));
}
