/**
 * Where a backend runs. The config may say (`host: local`, `host: gpu-box`); when it does not, a
 * backend with no address (in-process) or a loopback / unix-socket address is on this machine,
 * and any other address is another host. A model on another host is judged by the load its
 * server reports, never by this machine's memory.
 */
import { isLoopbackHost } from '../config/loopback.ts';

export interface Location {
  /** 'local', or the remote host's name. */
  host: string;
  local: boolean;
}

const LOCAL_NAMES = new Set(['local', 'localhost', 'this', 'self']);

/**
 * True for this machine's addresses: the loopback ones the metrics listener accepts (config's one
 * check), and names under *.localhost, which resolve to loopback (RFC 6761) but are never bound.
 */
function isThisMachine(hostname: string): boolean {
  return isLoopbackHost(hostname) || hostname.toLowerCase().endsWith('.localhost');
}

/** Where a backend runs, from its config's `host:` and its endpoint (baseURL). */
export function locate(declared: string | undefined, endpoint: string | undefined): Location {
  if (declared !== undefined) {
    const local = LOCAL_NAMES.has(declared.toLowerCase()) || isThisMachine(declared);
    return { host: local ? 'local' : declared, local };
  }
  if (endpoint === undefined) return { host: 'local', local: true };
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return { host: 'local', local: true };
  }
  if (url.protocol === 'unix:' || url.protocol === 'file:' || url.hostname.startsWith('unix') || url.hostname === '') return { host: 'local', local: true };
  return isThisMachine(url.hostname) ? { host: 'local', local: true } : { host: url.hostname, local: false };
}
