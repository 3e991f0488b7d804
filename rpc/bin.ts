#!/usr/bin/env node
/**
 * The `mai` executable (package.json bin → dist/bundle/mai.js, the bundle scripts/build.js makes of
 * this file). On Node it runs the bundle's CommonJS build through V8's code cache (rpc/code-cache.ts);
 * on Deno, from the sources, or from the per-file build, it imports the ES modules.
 */
import { loadCachedBundle } from './code-cache.ts';

type Bin = typeof import('./cli/run.ts');
// The bundle's `import()`s of packages and files outside it (node-llama-cpp, a config's plugins) are this module's.
const bin = (loadCachedBundle(new URL('./mai.cjs', import.meta.url), (specifier) => import(specifier)) as Bin | undefined) ?? (await import('./cli/run.ts'));
await bin.runBin(process.argv.slice(2));
