/**
 * Where a backend runs. The config may say (`host: local`, `host: gpu-box`); when it does not, a
 * backend with no address (in-process) or a loopback / unix-socket address is on this machine,
 * and any other address is another host. A model on another host is judged by the load its
 * server reports, never by this machine's memory.
 */

export interface Location {
  /** 'local', or the remote host's name. */
  host: string;
  local: boolean;
}

const LOCAL_NAMES = new Set(['local', 'localhost', 'this', 'self']);

/** True for loopback addresses: 127.0.0.0/8, ::1, localhost and *.localhost. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || h === '0:0:0:0:0:0:0:1' || /^127(\.\d{1,3}){3}$/.test(h) || h === '::ffff:127.0.0.1';
}

/** Where a backend runs, from its config's `host:` and its endpoint (baseURL). */
export function locate(declared: string | undefined, endpoint: string | undefined): Location {
  if (declared !== undefined) {
    const local = LOCAL_NAMES.has(declared.toLowerCase()) || isLoopbackHost(declared);
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
  return isLoopbackHost(url.hostname) ? { host: 'local', local: true } : { host: url.hostname, local: false };
}
