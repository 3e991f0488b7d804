/**
 * Whether a client command uses the shared host: the one decision `mai serve` and the CLI share.
 * Not when --standalone or MAI_STANDALONE=1 says so; otherwise reach the host for the config
 * (starting it), and when that fails say why on stderr and answer in this process instead. A
 * broken config is left to the in-process path, which reports it as it always has (exit code 2).
 */
import type { FindConfigOptions } from '../../core/config/find.ts';
import type { HostAddress } from './address.ts';
import type { HostConnection } from './connect.ts';
import type { Face } from './wire.ts';

export interface ReachedHost {
  address: HostAddress;
  connection: HostConnection;
}

export function standaloneWanted(flag: boolean | undefined, env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  return flag === true || env.MAI_STANDALONE === '1';
}

/** Where a client's own messages go and the environment a host it starts inherits (default: the process's). */
export interface HostUser {
  stderr: { write(text: string): unknown };
  env: Readonly<Record<string, string | undefined>>;
}

export async function useHost(find: FindConfigOptions, face: Face, name: string, user: HostUser = { stderr: process.stderr, env: process.env }): Promise<ReachedHost | null> {
  // Loaded only here: a standalone command (--standalone) loads nothing of the host.
  const [{ hostAddress }, { HostStartFailed, reachHost }] = await Promise.all([import('./address.ts'), import('./start.ts')]);
  let address: HostAddress;
  try {
    address = hostAddress(find);
  } catch {
    return null; // no config file: the in-process path names the problem
  }
  try {
    return { address, connection: await reachHost(address, { face, name, env: user.env, warn: (text) => user.stderr.write(text) }) };
  } catch (error) {
    if (error instanceof HostStartFailed && error.configError) return null;
    user.stderr.write(`mai: not using the shared host: ${(error as Error).message}\nmai: answering in this process instead (--standalone skips the host).\n`);
    return null;
  }
}
