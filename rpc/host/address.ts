/**
 * Where the host for a config lives: one config (its file, its content, the state folder it
 * writes to) and one Mai version → one socket name, so a client whose resolved config differs
 * reaches another host, never silently the wrong one; a host of another version has another name.
 * The socket sits in a folder only the user can enter ($XDG_RUNTIME_DIR/mai, else the state
 * folder's run/), checked before every use: another user's folder or socket, or one that others
 * can enter, is refused with what to do.
 */
import { createHash } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, readFileSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { findConfig, type FindConfigOptions } from '../../core/config/find.ts';
import { ErrorCodes, MaiError } from '../../core/errors.ts';
import { defaultStateDir } from '../../core/state.ts';
import { maiVersion } from '../version.ts';

export interface HostAddress {
  /** The resolved config file the host serves. */
  configFile: string;
  /** Short hash of version, config file, its content and the state folder. */
  key: string;
  version: string;
  socketDir: string;
  socket: string;
  /** Held while a client starts the host (two starters end with one host). */
  lock: string;
  /** The host's log (its stderr). */
  log: string;
}

type Env = Readonly<Record<string, string | undefined>>;

export function hostAddress(find: FindConfigOptions = {}): HostAddress {
  const env: Env = find.env ?? process.env;
  const { file } = findConfig(find);
  let content: Buffer;
  try {
    content = readFileSync(file);
  } catch (cause) {
    throw new MaiError(ErrorCodes.configNotFound, `Cannot read the config file ${file}: ${(cause as Error).message}.`, { cause, data: { file } });
  }
  const version = maiVersion();
  const stateDir = defaultStateDir(env);
  const hash = createHash('sha256');
  for (const part of [version, file, stateDir]) hash.update(part).update('\0');
  const key = hash.update(content).digest('hex').slice(0, 16);
  const socketDir = env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, 'mai') : join(stateDir, 'run');
  const name = `host-${version}-${key}`;
  return { configFile: file, key, version, socketDir, socket: join(socketDir, `${name}.sock`), lock: join(socketDir, `${name}.lock`), log: join(stateDir, `${name}.log`) };
}

const uid = (): number | undefined => process.getuid?.();

function unsafe(message: string, path: string): MaiError {
  return new MaiError(ErrorCodes.hostUnsafe, message, { data: { path }, retryable: false });
}

/** Creates the socket folder (0700) or checks the one there: a directory, the user's own, closed to others. */
export function ensurePrivateDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (cause) {
    throw unsafe(`Cannot create the host's socket folder ${dir}: ${(cause as Error).message}. Make it writable or set XDG_RUNTIME_DIR, or use --standalone.`, dir);
  }
  const stats = lstatSync(dir);
  if (!stats.isDirectory()) throw unsafe(`${dir} should be the host's socket folder but is not a directory (a symlink or a file). Remove it, or use --standalone.`, dir);
  checkOwner(stats, dir, 'folder');
  if ((stats.mode & 0o077) !== 0) {
    throw unsafe(
      `The host's socket folder ${dir} has mode ${(stats.mode & 0o777).toString(8)}: others could reach the host. Run \`chmod 700 ${dir}\` (Mai creates it 0700), or use --standalone.`,
      dir,
    );
  }
}

/** Checks an existing socket file (false when there is none): the user's own, a socket, 0600. */
export function checkSocket(path: string): boolean {
  let stats: Stats;
  try {
    stats = lstatSync(path);
  } catch {
    return false;
  }
  if (!stats.isSocket()) throw unsafe(`${path} is not a socket. Remove it, or use --standalone.`, path);
  checkOwner(stats, path, 'socket');
  if ((stats.mode & 0o077) !== 0) throw unsafe(`The host's socket ${path} has mode ${(stats.mode & 0o777).toString(8)}, open to others (Mai makes it 0600). Remove it, or use --standalone.`, path);
  return true;
}

function checkOwner(stats: Stats, path: string, what: string): void {
  const me = uid();
  if (me !== undefined && stats.uid !== me) {
    throw unsafe(`The host's ${what} ${path} belongs to user ${stats.uid}, not to you (${me}): Mai will not talk to another user's host. Remove it (as that user), set XDG_RUNTIME_DIR to your own folder, or use --standalone.`, path);
  }
}

/** Makes a socket just listened on private (0600). */
export function privateSocket(path: string): void {
  chmodSync(path, 0o600);
}
