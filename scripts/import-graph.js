#!/usr/bin/env node
/**
 * `npm run graph` (part of `npm test`): the import graph of core/, plugins/ and rpc/ has no circles
 * and no arrow that runs up a layer. madge reads every import, `import type` and `import()` included
 * (a type-only circle still means two files that cannot be understood apart), and resolves them as tsc does.
 * Layers, lowest first: core/ (its config/ below every other part of it), plugins/, rpc/; inside
 * rpc/, the MCP face does not lean on the CLI. Prints each circle and each wrong arrow with the
 * files that make it, and exits 1 when there is any.
 * Each run first proves it can see what it looks for: madge, with the options below, must find the circles
 * planted in a few files of a temporary folder (one of `import type`s, one through an `import()`; see
 * plantedCircles), else the run fails (exit 2) before it reads the tree. The check's power is tested where
 * madge is loaded anyway; test/import-graph.test.ts tests the layer rules (graphProblems) without loading it.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Arrows that must not exist: a file under `from` importing a file `to` accepts.
 * @type {Array<{ from: string, to: (target: string) => boolean, why: string }>}
 */
const forbidden = [
  { from: 'core/', to: (t) => t.startsWith('plugins/'), why: 'core/ is the lowest layer: the caller hands it the built-in plugins' },
  { from: 'core/', to: (t) => t.startsWith('rpc/'), why: 'core/ knows nothing of the protocol' },
  { from: 'plugins/', to: (t) => t.startsWith('rpc/'), why: 'plugins are loaded by core/ and know nothing of the protocol' },
  { from: 'rpc/mcp/', to: (t) => t.startsWith('rpc/cli/'), why: 'the MCP face is served by the host, not by the CLI' },
  {
    from: 'core/config/',
    to: (t) => /^core\/[^/]+\//.test(t) && !t.startsWith('core/config/'),
    why: 'the config is the ground every part of core/ reads: it imports none of them',
  },
];

/**
 * tsconfig.json's compiler options, parsed once. Handed to madge as a path, they were parsed by madge and then converted
 * again by its resolver (filing-cabinet) for every import it resolved: 0.4 CPU-s of the check, and that second pass
 * dropped every option that is an enum once parsed (module, moduleResolution, target...), so imports were resolved
 * with TypeScript's defaults (`vscode-jsonrpc/node`, a package `exports` entry, went unresolved). As `{ options }`
 * they are used as they are. TypeScript is loaded with require: madge loads that copy anyway, and an ESM import of it
 * would first scan its 9 MB for export names (~1 CPU-s).
 */
function compilerOptions() {
  /** @type {typeof import('typescript')} */
  const ts = createRequire(import.meta.url)('typescript');
  const file = resolve(root, 'tsconfig.json');
  const config = ts.parseJsonSourceFileConfigFileContent(ts.readJsonConfigFile(file, ts.sys.readFile), ts.sys, root);
  if (config.errors.length > 0) throw new Error(`tsconfig.json: ${ts.flattenDiagnosticMessageText(config.errors[0]?.messageText, '\n')}`);
  return config.options;
}

/**
 * How madge reads the tree: every import, `import type` and `import()` included, resolved as tsc does.
 * allowInvalidAST (typescript-estree's, which parses each .ts file for madge's detective): the ESTree it builds skips
 * its own grammar checks (modifiers, decorators, escapes: ~0.35 of the check's ~4.5 CPU-s), the same tree for valid
 * code. They found nothing the type check would not, and a file they threw on lost all its arrows
 * (dependency-tree reads a file that fails to parse as one without imports).
 */
function madgeOptions() {
  return {
    fileExtensions: ['ts', 'js'],
    // madge's types say a path; its code hands an object on to dependency-tree and filing-cabinet, whose docs accept one.
    tsConfig: /** @type {string} */ (/** @type {unknown} */ ({ options: compilerOptions() })),
    detectiveOptions: { ts: { skipTypeImports: false, allowInvalidAST: true }, es6: { skipTypeImports: false } },
  };
}

/**
 * Small trees, each with the graph madge must read from it and its one circle as graphProblems names it. A check
 * that missed them would pass a tree with such a circle: `import type` only, whole or by specifier (madge's
 * detectives skip type imports unless told not to), and an `import()` (a dynamic import is an arrow too: the chunk
 * still needs the other file).
 */
export const plantedCircles = [
  {
    kind: 'a circle of `import type`s',
    files: {
      'a.ts': "import type { B } from './b.ts';\nexport interface A { b?: B }\n",
      'b.ts': "import type { A } from './a.ts';\nexport interface B { a?: A }\n",
      'c.ts': "import { type A } from './a.ts';\nexport const c: A = {};\n",
    },
    graph: { 'a.ts': ['b.ts'], 'b.ts': ['a.ts'], 'c.ts': ['a.ts'] },
    circle: 'circle: a.ts -> b.ts -> a.ts',
  },
  {
    kind: 'a circle through an import()',
    files: {
      'a.ts': "export const load = async (): Promise<number> => (await import('./b.ts')).b;\nexport const a = 1;\n",
      'b.ts': "import { a } from './a.ts';\nexport const b = a + 1;\n",
    },
    graph: { 'a.ts': ['b.ts'], 'b.ts': ['a.ts'] },
    circle: 'circle: a.ts -> b.ts -> a.ts',
  },
];

/**
 * The planted circles madge, as configured here, does not find (none: the check sees what it looks for).
 * @param {(typeof import('madge'))['default']} madge
 * @param {ReturnType<typeof madgeOptions>} options
 * @returns {Promise<string[]>}
 */
async function missedCircles(madge, options) {
  const dir = await mkdtemp(join(tmpdir(), 'mai-graph-'));
  try {
    /** @type {string[]} */
    const missed = [];
    for (const [i, planted] of plantedCircles.entries()) {
      const tree = join(dir, String(i));
      await mkdir(tree);
      for (const [name, text] of Object.entries(planted.files)) await writeFile(join(tree, name), text);
      const result = await madge(tree, { ...options, baseDir: tree });
      const read = JSON.stringify(result.obj()) === JSON.stringify(planted.graph);
      if (!read || !graphProblems(result.obj(), result.circular()).includes(planted.circle)) missed.push(planted.kind);
    }
    return missed;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The circles and wrong arrows of a graph (file -> the files it imports, relative to the root).
 * @param {Record<string, string[]>} graph
 * @param {string[][]} circles
 * @returns {string[]} one line per problem
 */
export function graphProblems(graph, circles) {
  const problems = circles.map((circle) => `circle: ${[...circle, circle[0]].join(' -> ')}`);
  for (const [file, imports] of Object.entries(graph)) {
    for (const target of imports) {
      const rule = forbidden.find((r) => file.startsWith(r.from) && r.to(target));
      if (rule) problems.push(`upward arrow: ${file} -> ${target} (${rule.why})`);
    }
  }
  return problems;
}

async function main() {
  // Loaded here, not at the top: test/import-graph.test.ts imports graphProblems alone (madge and TypeScript: ~0.9 CPU-s).
  const { default: madge } = await import('madge');
  const options = madgeOptions();
  const missed = await missedCircles(madge, options);
  if (missed.length > 0) {
    process.stderr.write(`import graph: the check does not see ${missed.join(' or ')} planted in a test tree: its madge options (scripts/import-graph.js) are wrong, so it cannot vouch for the tree.\n`);
    return 2;
  }
  const result = await madge(['core', 'plugins', 'rpc'], { ...options, baseDir: root });
  const graph = result.obj();
  const problems = graphProblems(graph, result.circular());
  // A relative import madge cannot resolve would hide its arrow: name it too (packages are not followed).
  for (const skipped of result.warnings().skipped) if (skipped.startsWith('.')) problems.push(`unresolved import: ${skipped}`);
  const files = Object.keys(graph).length;
  if (problems.length === 0) {
    process.stdout.write(`import graph: ${files} files, no circles, no upward arrows\n`);
    return 0;
  }
  process.stderr.write(`import graph: ${problems.length} problem(s) in ${files} files:\n${problems.map((p) => `  ${p}`).join('\n')}\n`);
  process.stderr.write('Give a piece both sides need one home at the lower layer (a type in the folder that produces it), or hand it in from above.\n');
  return 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exitCode = await main();
