/**
 * The import-graph check `npm test` runs (scripts/import-graph.js): it sees type-only circles, and
 * it names each arrow that runs up a layer. The tree itself is checked by `npm run graph`.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import madge from 'madge';
import { afterEach, describe, expect, it } from 'vitest';
import { graphProblems, madgeOptions } from '../scripts/import-graph.js';

describe('import graph check', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('counts an import type as an arrow, so a type-only circle is found', async () => {
    dir = await mkdtemp(join(tmpdir(), 'mai-graph-'));
    await writeFile(join(dir, 'a.ts'), "import type { B } from './b.ts';\nexport interface A { b?: B }\n");
    await writeFile(join(dir, 'b.ts'), "import type { A } from './a.ts';\nexport interface B { a?: A }\n");
    await writeFile(join(dir, 'c.ts'), "import { type A } from './a.ts';\nexport const c: A = {};\n");
    const result = await madge(dir, { ...madgeOptions, baseDir: dir });
    expect(result.obj()).toEqual({ 'a.ts': ['b.ts'], 'b.ts': ['a.ts'], 'c.ts': ['a.ts'] });
    expect(graphProblems(result.obj(), result.circular())).toEqual(['circle: a.ts -> b.ts -> a.ts']);
  });

  it('counts an import() as an arrow, so a circle through a dynamic import is found', async () => {
    dir = await mkdtemp(join(tmpdir(), 'mai-graph-'));
    await writeFile(join(dir, 'a.ts'), "export const load = async (): Promise<number> => (await import('./b.ts')).b;\nexport const a = 1;\n");
    await writeFile(join(dir, 'b.ts'), "import { a } from './a.ts';\nexport const b = a + 1;\n");
    const result = await madge(dir, { ...madgeOptions, baseDir: dir });
    expect(result.obj()).toEqual({ 'a.ts': ['b.ts'], 'b.ts': ['a.ts'] });
    expect(graphProblems(result.obj(), result.circular())).toEqual(['circle: a.ts -> b.ts -> a.ts']);
  });

  it('names each upward arrow and lets the downward ones be', () => {
    const graph = {
      'core/mai.ts': ['plugins/index.ts', 'core/config/schema.ts', 'core/errors.ts'],
      'core/config/schema.ts': ['core/metrics/loopback.ts', 'core/config/loopback.ts', 'core/errors.ts'],
      'core/metrics/listener.ts': ['core/config/loopback.ts'],
      'core/stages/infer.ts': ['rpc/errors.ts'],
      'plugins/backends/openai.ts': ['core/errors.ts', 'rpc/client.ts'],
      'rpc/mcp/server.ts': ['rpc/cli/common.ts', 'rpc/errors.ts', 'core/mai.ts'],
      'rpc/cli/serve.ts': ['rpc/mcp/server.ts', 'plugins/index.ts'],
    };
    const problems = graphProblems(graph, []);
    expect(problems.map((p) => p.replace(/ \(.*\)$/, ''))).toEqual([
      'upward arrow: core/mai.ts -> plugins/index.ts',
      'upward arrow: core/config/schema.ts -> core/metrics/loopback.ts',
      'upward arrow: core/stages/infer.ts -> rpc/errors.ts',
      'upward arrow: plugins/backends/openai.ts -> rpc/client.ts',
      'upward arrow: rpc/mcp/server.ts -> rpc/cli/common.ts',
    ]);
    expect(problems[0]).toMatch(/caller hands it the built-in plugins/);
  });
});
