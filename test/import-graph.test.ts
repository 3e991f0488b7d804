/**
 * The import-graph check `npm test` runs (scripts/import-graph.js): it names each arrow that runs up a
 * layer and each circle. That it sees type-only circles and circles through an `import()` is proved by
 * the script itself on every run, before it reads the tree (plantedCircles: it fails, exit 2, when
 * madge misses one), where madge is loaded anyway; here, the rules and the planted trees' own shape,
 * without loading madge and TypeScript (~0.9 CPU-s). The tree itself is checked by `npm run graph`.
 */
import { describe, expect, it } from 'vitest';
import { graphProblems, plantedCircles } from '../scripts/import-graph.js';

describe('import graph check', () => {
  it('plants a type-only circle and one through an import() for the script to find before it vouches for the tree', () => {
    const [typeOnly, dynamic] = plantedCircles;
    // Every arrow of the first circle is an `import type` (or a type-only specifier); the second runs through an import().
    expect(Object.values(typeOnly!.files).every((text) => /^import (type \{|\{ type )/.test(text))).toBe(true);
    expect(dynamic!.files['a.ts']).toMatch(/await import\('\.\/b\.ts'\)/);
    expect(dynamic!.files['a.ts']).not.toMatch(/^import /m);
    // Each graph is its files' imports, and graphProblems names its circle as the script expects.
    for (const planted of plantedCircles) {
      expect(Object.keys(planted.graph).sort()).toEqual(Object.keys(planted.files).sort());
      expect(graphProblems(planted.graph, [['a.ts', 'b.ts']])).toEqual([planted.circle]);
    }
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
