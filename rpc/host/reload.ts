/**
 * `config/reload` on the shared host. The host is the one for its config file: its socket's name
 * is a hash of that file's path and content, and every client that names the file reaches it. So
 * a reload may re-read that file — and the host then takes the socket name of what it now runs,
 * so the next client of the edited file reaches it instead of starting a second host — but may
 * not point the host at another file: its other clients would be served a config they never
 * named, and clients of the other file would not find it. That is refused with the way to get it:
 * `mai serve --config <file>` (or the CLI's --config) reaches the host for that file.
 */
import { renameSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { FindConfigOptions } from '../../core/config/find.ts';
import { canonical } from '../../core/config/reload-target.ts';
import { ErrorCodes, MaiError } from '../../core/errors.ts';
import type { Logger } from '../../core/log.ts';
import type { Mai } from '../../core/mai.ts';
import { checkSocket, hostAddress, type HostAddress } from './address.ts';
import { probeHost } from './connect.ts';

export type Reload = Mai['reload'];

export interface HostReloadOptions {
  mai: Mai;
  find: FindConfigOptions;
  log: Logger;
  /** Where the host listens now. */
  address(): HostAddress;
  /** The host listens at this address from now on (its socket was renamed there). */
  moved(address: HostAddress): void;
  /** False once the host left its socket to a host of a newer build: the socket's name is that host's now. */
  listens(): boolean;
}

export function hostReload(options: HostReloadOptions): Reload {
  const { mai, log } = options;
  return async (request = {}) => {
    const current = options.address();
    if (request.config !== undefined) {
      const path = isAbsolute(request.config) ? request.config : resolve(mai.config.baseDir, request.config);
      if (canonical(path) !== canonical(current.configFile)) {
        throw new MaiError(
          ErrorCodes.configNotAllowed,
          `config/reload cannot move Mai's shared host to ${path}: this host serves ${current.configFile} to every client that uses that file. ` +
            `To use ${path}, run \`mai serve --config ${path}\` (or give the CLI --config ${path}): it reaches the host for that file, starting it if none runs. ` +
            `Send config/reload without "config" to re-read ${current.configFile}.`,
          { retryable: false, data: { file: path, config: current.configFile } },
        );
      }
    }
    const result = await mai.reload(request);
    if (options.listens()) await takeNewName(options, current, log);
    return result;
  };
}

/** After its file changed, the host moves its socket to the name of the new content (unless a host already serves it). */
async function takeNewName(options: HostReloadOptions, current: HostAddress, log: Logger): Promise<void> {
  let next: HostAddress;
  try {
    next = hostAddress({ ...options.find, flag: current.configFile });
  } catch (error) {
    log.warn(`after the reload the host keeps its socket ${current.socket}: ${(error as Error).message}`);
    return;
  }
  if (next.socket === current.socket) return;
  try {
    if (checkSocket(next.socket) && (await probeHost(next.socket))) {
      log.info(`another host already serves the new content of ${current.configFile} on ${next.socket}; this one keeps ${current.socket}`);
      return;
    }
    renameSync(current.socket, next.socket); // the listening socket keeps its inode: no connection is lost
    options.moved(next);
    log.info(`${current.configFile} changed: the host now listens on ${next.socket}`);
  } catch (error) {
    log.warn(`after the reload the host keeps its socket ${current.socket}: ${(error as Error).message}`);
  }
}
