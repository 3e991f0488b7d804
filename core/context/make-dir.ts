/**
 * mkdir -p without Node's recursive mkdir, which never returns for a path under /proc (it retries
 * the parent forever): each missing folder is made on its own, top down, so a folder that cannot be
 * made fails at once with its errno. And the one error a state dir that cannot be used becomes.
 */
import { mkdirSync, statSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ErrorCodes, MaiError } from '../errors.ts';

const onDeno = 'Deno' in globalThis;

const errnoOf = (error: unknown): string | undefined => (error as NodeJS.ErrnoException | null | undefined)?.code;

/** The folders from the first missing one down to `dir`. */
function missing(dir: string, exists: (path: string) => boolean): string[] {
  const out: string[] = [];
  for (let path = resolve(dir); !exists(path); path = dirname(path)) {
    out.unshift(path);
    if (dirname(path) === path) break;
  }
  return out;
}

/** Makes `dir` and its missing parents; resolves to the first folder made (undefined when none was). */
export async function makeDir(dir: string): Promise<string | undefined> {
  // Deno's recursive mkdir returns for /proc, and asks for write permission on the target only (a
  // folder at a time would need it on every missing parent, beyond a narrow --allow-write).
  if (onDeno) return mkdir(dir, { recursive: true });
  const known = new Set<string>();
  for (let path = resolve(dir); ; path = dirname(path)) {
    const found = await stat(path).then(() => true, () => false);
    if (found || dirname(path) === path) break;
    known.add(path);
  }
  const todo = missing(dir, (p) => !known.has(p));
  for (const path of todo) {
    await mkdir(path).catch((error: unknown) => {
      if (errnoOf(error) !== 'EEXIST') throw error;
    });
  }
  return todo[0];
}

/** makeDir, synchronously. */
export function makeDirSync(dir: string): void {
  if (onDeno) {
    mkdirSync(dir, { recursive: true });
    return;
  }
  for (const path of missing(dir, (p) => statSync(p, { throwIfNoEntry: false }) !== undefined)) {
    try {
      mkdirSync(path);
    } catch (error) {
      if (errnoOf(error) !== 'EEXIST') throw error;
    }
  }
}

/** Errors that mean the folder itself cannot be used (not a bug in Mai). */
const unusable = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'ENOENT', 'ENOSPC', 'EDQUOT', 'EEXIST', 'EISDIR', 'ELOOP', 'ENAMETOOLONG']);

/** A file-system error under the state dir as the error a client can act on (-32015), else undefined. */
export function stateDirError(stateDir: string, what: string, error: unknown): MaiError | undefined {
  const code = errnoOf(error);
  if (code === undefined || !unusable.has(code)) return undefined;
  return new MaiError(
    ErrorCodes.stateDirUnusable,
    `Mai cannot ${what} in its state dir ${stateDir} (${code}: ${(error as Error).message}). ` +
      'Set context.stateDir in mai.config.yaml (or MAI_STATE_DIR) to a folder Mai can create and write, or fix that folder\'s permissions.',
    { cause: error, retryable: false, data: { stateDir, errno: code } },
  );
}
