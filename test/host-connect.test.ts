/**
 * What a client makes of a host that dies as it connects (rpc/host/connect.ts), deterministically:
 * a real process listens on a Unix socket and stops itself (SIGSTOP), so our connection waits in
 * its backlog, unaccepted; then it is killed, its listening socket closes, and the connection is
 * reset (ECONNRESET). That is "no host here" (start one), not a failure to report: the race behind
 * the once-flaky SIGKILL case of test/host.test.ts, where the next request met the dying host.
 * And a host that answers and ends before the forwarder takes the connection: its bytes and its
 * end are held (the socket paused) until `receive` is called, not emitted to nobody.
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

it("the host's bytes and its end wait for the receiver: nothing is lost while the forwarder is still loading", async () => {
  const socket = join(dir.path, 'host.sock');
  const script = join(dir.path, 'quick-host.mjs');
  // A host (a real process) that answers the hello, sends protocol bytes in the same write, and ends at once.
  writeFileSync(
    script,
    `import { createServer } from 'node:net';
const server = createServer({ allowHalfOpen: true }, (c) => {
  let got = '';
  c.on('data', (d) => {
    got += d;
    if (!got.includes('\\n')) return;
    c.end('MAI-HOST/1 {"ok":true,"version":"test","pid":' + process.pid + '}\\n{"jsonrpc":"2.0","method":"first"}\\n{"jsonrpc":"2.0","method":"second"}\\n', () => process.stdout.write('sent\\n'));
  });
});
server.listen(${JSON.stringify(socket)}, () => process.stdout.write('listening\\n'));
`,
  );
  const child = spawn(process.execPath, ['Deno' in globalThis ? ['run', '-A'] : [], script].flat(), { stdio: ['ignore', 'pipe', 'inherit'] });
  pid = child.pid!;
  let said = '';
  child.stdout.on('data', (d: Buffer) => (said += d.toString('utf8')));
  const saying = async (line: string) => {
    while (!said.includes(`${line}\n`)) await new Promise((resolve) => setTimeout(resolve, 10));
  };
  await saying('listening');
  const connection = await connectHost(socket, 'mai', 'test');
  expect(connection.hello).toMatchObject({ ok: true, version: 'test' });
  // The host has written everything and ended well before anyone listens.
  await saying('sent');
  await new Promise((resolve) => setTimeout(resolve, 100));
  const chunks: Buffer[] = [];
  const ended = new Promise<void>((resolve) => connection.socket.once('end', () => resolve()));
  connection.receive((chunk) => chunks.push(Buffer.from(chunk))); // a view of the read buffer: kept, a copy
  await ended;
  expect(Buffer.concat(chunks).toString('utf8')).toBe('{"jsonrpc":"2.0","method":"first"}\n{"jsonrpc":"2.0","method":"second"}\n');
  connection.socket.destroy();
});
