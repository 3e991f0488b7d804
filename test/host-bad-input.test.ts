/**
 * Bad input at the shared host's socket, with real processes over the real socket (issue 13): a
 * stale socket (its host dead), a folder or socket open to others or owned by another user, a host
 * or a client of another Mai version, garbage, a broken hello, a client that never speaks. Each is
 * refused with a message that names the problem and the fix, and the host serves on. (A client that
 * vanishes mid-stream: test/host.test.ts.)
 */
import { chmodSync, chownSync, readdirSync, unlinkSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { tempDir, writeConfig, type TempDir } from './support/harness.ts';
import { alive, hostPids as pidsIn, killHosts, until as waitFor } from './support/host-state.ts';
import { startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';
import { loopbackConfig, runCli } from './support/rpc-client.ts';
import { maiVersion } from '../rpc/version.ts';

let dir: TempDir;
let server: FakeOpenAIServer;
let config: string;

const stateDir = () => join(dir.path, 'env-state');
const runtimeDir = () => join(stateDir(), 'run', 'mai');
const socketPath = () => join(runtimeDir(), readdirSync(runtimeDir()).find((f) => f.endsWith('.sock'))!);
const hostPids = () => pidsIn(stateDir());
const until = <T>(what: string, probe: () => T | undefined | false) => waitFor(what, probe, stateDir());
const cli = (args: string[]) => runCli([...args, '--config', config], { stateDir: stateDir(), env: { MAI_STANDALONE: '0' } });

/** Says `text` (or nothing) on the host's socket; resolves with all the host wrote once it closed. */
const talk = (text: string | null) =>
  new Promise<string>((resolve) => {
    const s = connect(socketPath());
    let got = '';
    s.on('data', (c) => {
      got += c.toString();
      if (text?.startsWith('{') && got.includes('\n')) s.end();
    });
    s.on('close', () => resolve(got));
    if (text !== null) s.write(text);
  });

beforeEach(async () => {
  dir = await tempDir('mai-host-bad-');
  server = await startOpenAIServer([{ id: 'fast-model', reply: 'quick' }]);
  config = await writeConfig(dir.path, loopbackConfig(server.baseURL, 'host: { idleExitMs: 5000, helloTimeoutMs: 500 }\n'));
});

afterEach(async () => {
  killHosts(stateDir());
  await server.close();
  await dir.cleanup();
});

it('a stale socket (its host dead) is recovered', async () => {
  expect((await cli(['status'])).code).toBe(0);
  const [pid] = hostPids();
  process.kill(pid!, 'SIGKILL');
  await until('the host to die', () => !alive(pid!));
  expect(readdirSync(runtimeDir()).some((f) => f.endsWith('.sock'))).toBe(true);
  const run = await cli(['status']);
  expect(run.code, run.stderr).toBe(0);
  expect(run.stderr).toMatch(/stale host socket/);
  expect(hostPids()).toHaveLength(2);
});

it('a socket open to others is refused with the fix, and the command answers in its own process', async () => {
  expect((await cli(['status'])).code).toBe(0);
  chmodSync(socketPath(), 0o666);
  const run = await cli(['status']);
  expect(run.code, run.stderr).toBe(0);
  expect(run.stderr).toMatch(/socket .* has mode 666, open to others \(Mai makes it 0600\)\. Remove it, or use --standalone/);
  expect(run.stderr).toMatch(/answering in this process/);
});

it.runIf(process.getuid?.() === 0)("another user's socket is refused", async () => {
  expect((await cli(['status'])).code).toBe(0);
  chownSync(socketPath(), 4242, 4242);
  const run = await cli(['status']);
  expect(run.code, run.stderr).toBe(0);
  expect(run.stderr).toMatch(/The host's socket .* belongs to user 4242, not to you .*Mai will not talk to another user's host/);
});

it('a broken hello, an unknown face and a client of another Mai version are each told what is wrong in a hello; the host serves on', async () => {
  expect((await cli(['status'])).code).toBe(0);
  const refusal = async (line: string) => {
    const reply = await talk(`${line}\n`);
    expect(reply.startsWith('MAI-HOST/1 '), reply).toBe(true);
    return JSON.parse(reply.slice('MAI-HOST/1 '.length)) as { ok: boolean; error: string };
  };
  const hello = (fields: Record<string, unknown>) => `MAI-HOST/1 ${JSON.stringify({ face: 'mai', version: maiVersion(), name: 'test', pid: 1, ...fields })}`;
  expect(await refusal('MAI-HOST/1 {oops')).toMatchObject({ ok: false, error: expect.stringMatching(/the hello is not JSON/) });
  expect(await refusal(hello({ face: 'lsp' }))).toMatchObject({ ok: false, error: expect.stringMatching(/face "lsp"; this host serves "mai" and "mcp"/) });
  expect(await refusal(hello({ version: '0.0.1' }))).toMatchObject({ ok: false, error: `this host is Mai ${maiVersion()}, the client Mai 0.0.1` });
  expect((await cli(['status'])).code).toBe(0); // the host took no harm
});

it('a socket folder open to others is refused, and the command answers in its own process', async () => {
  expect((await cli(['status'])).code).toBe(0);
  chmodSync(runtimeDir(), 0o755);
  const run = await cli(['status']);
  expect(run.code, run.stderr).toBe(0);
  expect(run.stderr).toMatch(/has mode 755: others could reach the host.*chmod 700/);
  expect(run.stderr).toMatch(/answering in this process/);
});

it.runIf(process.getuid?.() === 0)("another user's socket folder is refused", async () => {
  expect((await cli(['status'])).code).toBe(0);
  chownSync(runtimeDir(), 4242, 4242);
  const run = await cli(['status']);
  expect(run.code, run.stderr).toBe(0);
  expect(run.stderr).toMatch(/belongs to user 4242, not to you/);
});

it('garbage and silence on the socket are refused; a direct JSON-RPC client is served', async () => {
  expect((await cli(['status'])).code).toBe(0);
  expect(await talk('GET / HTTP/1.1\r\n\r\n')).toMatch(/Mai's host socket.*refused/);
  expect(await talk(null)).toMatch(/nothing came for 500 ms/);
  expect(JSON.parse(await talk('{"jsonrpc":"2.0","id":7,"method":"status"}\n'))).toMatchObject({ id: 7, result: { counters: expect.any(Object) } });
  expect((await cli(['status'])).code).toBe(0); // the host took no harm
});

it('a host of another Mai version on the socket is told apart: the command says so and answers in its own process', async () => {
  expect((await cli(['status'])).code).toBe(0);
  const [pid] = hostPids();
  process.kill(pid!, 'SIGKILL');
  await until('the host to die', () => !alive(pid!));
  const socket = socketPath();
  unlinkSync(socket);
  const old = createServer((c) => c.end(`MAI-HOST/1 ${JSON.stringify({ ok: false, version: '0.0.1', pid: 1, error: 'this host is Mai 0.0.1, the client Mai 0.1.0' })}\n`));
  await new Promise<void>((resolve) => old.listen(socket, resolve));
  chmodSync(socket, 0o600);
  try {
    const run = await cli(['status']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/refused: this host is Mai 0\.0\.1.*\n.*answering in this process/);
  } finally {
    old.close();
  }
});
