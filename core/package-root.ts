/**
 * Where Mai is installed: the folder of its package.json, found by walking up from the running
 * code: one answer for the TypeScript sources (Deno, in-process tests), the per-file build
 * (dist/core/…) and the bundle the `mai` bin runs (dist/bundle/), whose code sits at other depths.
 * Free of zod and YAML: the thin `mai serve` forwarder uses it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface MaiPackage {
  /** The folder holding Mai's package.json (and mai.config.yaml, dist/, the sources). */
  root: string;
  version: string;
  /** The `mai` bin, relative to the root (package.json's bin.mai). */
  bin: string;
}

/** True when this code runs from the TypeScript sources (Deno, vitest), not from a build under dist/. */
export const fromSources = import.meta.url.endsWith('.ts');

let cached: MaiPackage | null | undefined;

/** Mai's package, or null when no package.json named "mai" is above the running code. */
export function maiPackage(): MaiPackage | null {
  if (cached !== undefined) return cached;
  cached = null;
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown; bin?: { mai?: unknown } };
        if (pkg.name === 'mai' && typeof pkg.version === 'string') {
          cached = { root: dir, version: pkg.version, bin: typeof pkg.bin?.mai === 'string' ? pkg.bin.mai : 'dist/bundle/mai.js' };
          break;
        }
      } catch {
        // an unreadable package.json: keep looking
      }
    }
    if (dirname(dir) === dir) break;
  }
  return cached;
}
