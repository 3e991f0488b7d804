/**
 * zod is configured in one place (core/zod.ts: jitless, set before any schema is built), which holds
 * only while every module that builds a schema takes `z` from there: a value import of 'zod'
 * anywhere else would build its schemas before the setting when it is evaluated first.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from '../core/zod.ts';

const root = join(import.meta.dirname, '..');

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(join(root, dir), { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && /\.(ts|js)$/.test(e.name) && !e.name.endsWith('.d.ts')).map((e) => relative(root, join(e.parentPath, e.name)));
}

describe('zod, configured once (core/zod.ts)', () => {
  it('is jitless, and no other module of core/, plugins/ or rpc/ imports a value from zod', async () => {
    expect(z.config().jitless).toBe(true);
    const files = (await Promise.all(['core', 'plugins', 'rpc'].map(sources))).flat();
    const direct: string[] = [];
    for (const file of files) {
      if (file === join('core', 'zod.ts')) continue;
      const text = await readFile(join(root, file), 'utf8');
      for (const line of text.match(/^\s*import\s+(?!type\b)[^;]*from\s+['"]zod(\/[^'"]*)?['"]/gm) ?? []) direct.push(`${file}: ${line.trim()}`);
      if (/\bimport\(\s*['"]zod/.test(text)) direct.push(`${file}: import('zod')`);
    }
    expect(direct).toEqual([]);
  });
});
