/**
 * Which config file a `config/reload` may read. Several clients share one Mai, so a client must not
 * be able to load code (a config's `use: ./x.js`) or move the conversations (`context.stateDir`) by
 * naming a file: a reload re-reads the config Mai runs with, or a file the host's owner listed in
 * `reload.allow`. A path that is neither is refused before anything is read, so the answer says
 * nothing about whether it exists or what it holds.
 */
import { realpathSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { ErrorCodes, MaiError } from '../errors.ts';
import type { LoadedConfig } from './load.ts';

/** The real path when the file exists (symlinks resolved), else the resolved one. */
export function canonical(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

/**
 * The file a reload reads: the running config when `requested` is absent; otherwise `requested`
 * (relative to the running config's folder) when it is the file Mai started with, the running one,
 * or one that the running config's `reload.allow` lists.
 */
export function reloadTarget(running: LoadedConfig, startedWith: string, requested: string | undefined): string {
  if (requested === undefined) return running.file;
  const path = isAbsolute(requested) ? requested : resolve(running.baseDir, requested);
  const wanted = canonical(path);
  const allowed = [startedWith, running.file, ...running.config.reload.allow.map((a) => resolve(running.baseDir, a))];
  if (allowed.some((file) => canonical(file) === wanted)) return path;
  throw new MaiError(
    ErrorCodes.configNotAllowed,
    `config/reload may not read ${path}: a client can only make Mai re-read its own config (${running.file}) or a file listed under reload.allow in it. ` +
      `Send config/reload without "config" to re-read ${running.file}, or have the host's owner add the path to reload.allow there.`,
    { retryable: false, data: { file: path, config: running.file, allowed: running.config.reload.allow } },
  );
}
