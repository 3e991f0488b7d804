/**
 * Which addresses are this machine's loopback: the only ones the metrics listener may bind. Here, at
 * config's layer, because the config schema refuses any other `metrics.host` and the metrics
 * listener (core/metrics, above config) checks again what it bound.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** True for localhost, 127.0.0.0/8, ::1 and ::ffff:127.x.y.z. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost') return true;
  if (isIPv4(h)) return h.startsWith('127.');
  if (isIPv6(h)) {
    if (/^::ffff:127\.\d+\.\d+\.\d+$/.test(h)) return true;
    // ::1 in any of its spellings (0:0:0:0:0:0:0:1, ::0:1, …)
    const [head = '', tail = ''] = h.split('::');
    const groups = h.includes('::') ? [...head.split(':').filter(Boolean), ...tail.split(':').filter(Boolean)] : h.split(':');
    return groups.length > 0 && groups.slice(0, -1).every((g) => /^0+$/.test(g)) && /^0*1$/.test(groups.at(-1) ?? '');
  }
  return false;
}

/** The address to bind for a loopback host name (localhost is bound as 127.0.0.1, never resolved). */
export function loopbackBindAddress(host: string): string {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return h === 'localhost' ? '127.0.0.1' : h;
}
