/** Mai's version, from the package.json next to the sources (rpc/) or the compiled code (dist/rpc/). */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function maiVersion(): string {
  if (cached !== undefined) return cached;
  const here = dirname(fileURLToPath(import.meta.url));
  cached = '0.0.0';
  for (const up of ['..', '../..']) {
    const file = resolve(here, up, 'package.json');
    if (!existsSync(file)) continue;
    try {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'mai' && typeof pkg.version === 'string') {
        cached = pkg.version;
        break;
      }
    } catch {
      // an unreadable package.json: keep looking
    }
  }
  return cached;
}
