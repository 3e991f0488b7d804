/**
 * What a test of the shared host reads from the state folder it gave Mai: the hosts' logs, the
 * pids they name (every host a test starts is killed by them in afterEach), and waiting for a
 * condition with the logs in the message when it never comes.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export function hostLogs(stateDir: string): string {
  if (!existsSync(stateDir)) return '';
  return readdirSync(stateDir)
    .filter((f) => f.startsWith('host-') && f.endsWith('.log'))
    .map((f) => readFileSync(join(stateDir, f), 'utf8'))
    .join('');
}

/** Pids of every host started with this state folder (from their logs). */
export function hostPids(stateDir: string): number[] {
  return [...hostLogs(stateDir).matchAll(/host pid (\d+) serves/g)].map((m) => Number(m[1]));
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Kills every host this state folder's logs name that still runs. */
export function killHosts(stateDir: string): void {
  for (const pid of hostPids(stateDir)) if (alive(pid)) process.kill(pid, 'SIGKILL');
}

export async function until<T>(what: string, probe: () => T | undefined | false, logsOf: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; host log:\n${hostLogs(logsOf)}`);
    await sleep(25);
  }
}
