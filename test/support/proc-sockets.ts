/** The TCP sockets a process listens on, read from Linux's /proc (its socket fds matched with /proc/net/tcp{,6}). */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

function decode(hex: string, v6: boolean): string {
  if (!v6) return [3, 2, 1, 0].map((i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join('.');
  // Four little-endian 32-bit words.
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) for (let b = 3; b >= 0; b--) bytes.push(parseInt(hex.slice(w * 8 + b * 2, w * 8 + b * 2 + 2), 16));
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[i * 2]! << 8) | bytes[i * 2 + 1]!).toString(16));
  return groups.join(':').replace(/^(0:)+0?$|(^|:)0(:0)+(:|$)/, '::').replace(/^0::/, '::');
}

export function listeningSockets(pid: number): Array<{ address: string; port: number }> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const out: Array<{ address: string; port: number }> = [];
  for (const [table, v6] of [['tcp', false], ['tcp6', true]] as const) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || cols[3] !== '0A' || !inodes.has(cols[9]!)) continue; // 0A: LISTEN
      const [addr, port] = cols[1]!.split(':');
      out.push({ address: decode(addr!, v6), port: parseInt(port!, 16) });
    }
  }
  return out;
}
