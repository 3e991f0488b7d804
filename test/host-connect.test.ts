/**
 * What a client makes of a host that dies as it connects (rpc/host/connect.ts), deterministically:
 * a real process listens on a Unix socket and stops itself (SIGSTOP), so our connection waits in
 * its backlog, unaccepted; then it is killed, its listening socket closes, and the connection is
 * reset (ECONNRESET). That is "no host here" (start one), not a failure to report: the race behind
 * the once-flaky SIGKILL case of test/host.test.ts, where the next request met the dying host.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { connectHost, HostAbsent } from '../rpc/host/connect.ts';
import { tempDir, type TempDir } from './support/harness.ts';

let dir: TempDir;
let pid: number | undefined;

beforeEach(async () => {
  dir = await tempDir('mai-host-connect-');
});

afterEach(async () => {
  if (pid) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  await dir.cleanup();
});

const stopped = (p: number) => {
  try {
    const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] === 'T';
  } catch {
    return false;
  }
};

it('a host killed with our connection in its backlog is absent (ECONNRESET → HostAbsent), not an error to give up on', async () => {
  const socket = join(dir.path, 'host.sock');
  const script = join(dir.path, 'frozen-host.mjs');
  writeFileSync(script, `import { createServer } from 'node:net';\ncreateServer(() => {}).listen(${JSON.stringify(socket)}, () => process.kill(process.pid, 'SIGSTOP'));\n`);
  const child = spawn(process.execPath, ['Deno' in globalThis ? ['run', '-A'] : [], script].flat(), { stdio: 'ignore' });
  pid = child.pid!;
  while (!stopped(pid)) await new Promise((resolve) => setTimeout(resolve, 10));
  const reaching = connectHost(socket, 'mai', 'test').then(
    () => 'connected',
    (error: unknown) => error,
  );
  // Our connection is in the frozen host's backlog once the kernel lists, beside its listening
  // socket, the socket made for it (it carries the listener's path) in /proc/net/unix.
  const bound = () => readFileSync('/proc/net/unix', 'utf8').split('\n').filter((line) => line.endsWith(` ${socket}`)).length;
  while (bound() < 2) await new Promise((resolve) => setTimeout(resolve, 10));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  process.kill(pid, 'SIGKILL');
  await exited;
  const outcome = await reaching;
  expect(outcome).toBeInstanceOf(HostAbsent);
  expect((outcome as Error).message).toMatch(/went away (as we connected|before its hello) \((ECONNRESET|EPIPE)\)/);
});
