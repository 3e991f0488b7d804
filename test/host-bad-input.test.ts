/**
 * Bad input at the shared host's socket, with real processes over the real socket (issue 13): a
 * stale socket (its host dead), a folder or socket open to others or owned by another user, a host
 * or a client of another Mai version, garbage, a broken hello, a client that never speaks. Each is
 * refused with a message that names the problem and the fix, and the host serves on. (A client that
 * vanishes mid-stream: test/host.test.ts.)
 *
 * One host serves the whole file (a real `mai host`, started by a real `mai status`): the cases run
 * in order, each puts back what it changed (a mode, an owner), and the two that kill the host come
 * last. A refusal is shown end to end once (`mai status` says why and answers in its own process);
 * the other refusals of the socket and its folder are the same client code (rpc/host/start.ts's
 * reachHost, and for a host of another version the CLI's main), run here in the test's process
 * against the same files and socket the CLI would reach.
 */
import { chmodSync, chownSync, existsSync, unlinkSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostAddress, type HostAddress } from '../rpc/host/address.ts';
import { reachHost } from '../rpc/host/start.ts';
import { maiVersion } from '../rpc/version.ts';
import { runCliInProcess } from './support/cli-in-process.ts';
import { tempDir, writeConfig, type TempDir } from './support/harness.ts';
import { alive, hostPids as pidsIn, killHosts, until as waitFor } from './support/host-state.ts';
import { startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';
import { loopbackConfig, maiEnv, runCli } from './support/rpc-client.ts';

let dir: TempDir;
let server: FakeOpenAIServer;
let config: string;
/** Where the CLI finds the host for `config` with the test's environment (the same function it calls). */
let address: HostAddress;

const stateDir = () => join(dir.path, 'env-state');
const hostPids = () => pidsIn(stateDir());
const until = <T>(what: string, probe: () => T | undefined | false) => waitFor(what, probe, stateDir());
const cli = (args: string[]) => runCli([...args, '--config', config], { stateDir: stateDir(), env: { MAI_STANDALONE: '0' } });
const me = () => process.getuid?.() ?? 0;
const myGroup = () => process.getgid?.() ?? 0;

/** Says `text` (or nothing) on the host's socket; resolves with all the host wrote once it closed. */
const talk = (text: string | null) =>
  new Promise<string>((resolve) => {
    const s = connect(address.socket);
    let got = '';
    s.on('data', (c) => {
      got += c.toString();
      if (text?.startsWith('{') && got.includes('\n')) s.end();
    });
    s.on('close', () => resolve(got));
    if (text !== null) s.write(text);
  });

/** A direct JSON-RPC client asks for status: the host serves. */
const servesOn = async () => expect(JSON.parse(await talk('{"jsonrpc":"2.0","id":7,"method":"status"}\n'))).toMatchObject({ id: 7, result: { counters: expect.any(Object) } });

/** What the CLI's client side makes of the socket and its folder as they are now (a refusal: its message). */
const reached = () =>
  reachHost(address, { face: 'mai', name: 'bad-input test' }).then(
    (connection) => {
      connection.socket.destroy();
      return 'reached the host';
    },
    (error: unknown) => (error as Error).message,
  );

beforeAll(async () => {
  dir = await tempDir('mai-host-bad-');
  server = await startOpenAIServer([{ id: 'fast-model', reply: 'quick' }]);
  // helloTimeoutMs: the silent client below is refused after it; idleExitMs: the host outlives the gaps between cases.
  config = await writeConfig(dir.path, loopbackConfig(server.baseURL, 'host: { idleExitMs: 60000, helloTimeoutMs: 300 }\n'));
  address = hostAddress({ flag: config, env: maiEnv(stateDir()) });
  const started = await cli(['status']);
  expect(started.code, started.stderr).toBe(0);
  expect(hostPids()).toHaveLength(1);
  expect(existsSync(address.socket)).toBe(true); // the CLI's host listens where the test looks
});

afterAll(async () => {
  killHosts(stateDir());
  await server.close();
  await dir.cleanup();
});

describe('one host, bad input in turn', () => {
  it('a broken hello, an unknown face and a client of another Mai version are each told what is wrong in a hello; the host serves on', async () => {
    const refusal = async (line: string) => {
      const reply = await talk(`${line}\n`);
      expect(reply.startsWith('MAI-HOST/1 '), reply).toBe(true);
      return JSON.parse(reply.slice('MAI-HOST/1 '.length)) as { ok: boolean; error: string };
    };
    const hello = (fields: Record<string, unknown>) => `MAI-HOST/1 ${JSON.stringify({ face: 'mai', version: maiVersion(), name: 'test', pid: 1, ...fields })}`;
    expect(await refusal('MAI-HOST/1 {oops')).toMatchObject({ ok: false, error: expect.stringMatching(/the hello is not JSON/) });
    expect(await refusal(hello({ face: 'lsp' }))).toMatchObject({ ok: false, error: expect.stringMatching(/face "lsp"; this host serves "mai" and "mcp"/) });
    expect(await refusal(hello({ version: '0.0.1' }))).toMatchObject({ ok: false, error: `this host is Mai ${maiVersion()}, the client Mai 0.0.1` });
    await servesOn(); // the host took no harm
    expect(await reached()).toBe('reached the host'); // and a client's hello is answered
  });

  it('garbage and silence on the socket are refused; a direct JSON-RPC client is served', async () => {
    expect(await talk('GET / HTTP/1.1\r\n\r\n')).toMatch(/Mai's host socket.*refused/);
    expect(await talk(null)).toMatch(/nothing came for 300 ms/);
    await servesOn();
    expect(hostPids()).toHaveLength(1);
  });

  it('a socket open to others is refused with the fix, and the command answers in its own process', async () => {
    chmodSync(address.socket, 0o666);
    try {
      const run = await cli(['status']);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toMatch(/socket .* has mode 666, open to others \(Mai makes it 0600\)\. Remove it, or use --standalone/);
      expect(run.stderr).toMatch(/answering in this process/);
    } finally {
      chmodSync(address.socket, 0o600);
    }
    expect(await reached()).toBe('reached the host'); // put back, the same check lets the client through
  });

  it.runIf(me() === 0)("another user's socket is refused", async () => {
    chownSync(address.socket, 4242, 4242);
    try {
      expect(await reached()).toMatch(/The host's socket .* belongs to user 4242, not to you .*Mai will not talk to another user's host/);
    } finally {
      chownSync(address.socket, me(), myGroup());
    }
  });

  it('a socket folder open to others is refused with the fix', async () => {
    chmodSync(address.socketDir, 0o755);
    try {
      expect(await reached()).toMatch(/has mode 755: others could reach the host.*chmod 700/);
    } finally {
      chmodSync(address.socketDir, 0o700);
    }
  });

  it.runIf(me() === 0)("another user's socket folder is refused", async () => {
    chownSync(address.socketDir, 4242, 4242);
    try {
      expect(await reached()).toMatch(/belongs to user 4242, not to you/);
    } finally {
      chownSync(address.socketDir, me(), myGroup());
    }
    expect(await reached()).toBe('reached the host');
  });

  it('a stale socket (its host dead) is recovered', async () => {
    const [pid] = hostPids();
    process.kill(pid!, 'SIGKILL');
    await until('the host to die', () => !alive(pid!));
    expect(existsSync(address.socket)).toBe(true);
    const run = await cli(['status']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/stale host socket/);
    expect(hostPids()).toHaveLength(2);
  });

  it('a host of another Mai version on the socket is told apart: the command says so and answers in its own process', async () => {
    const pid = hostPids().at(-1)!;
    process.kill(pid, 'SIGKILL');
    await until('the host to die', () => !alive(pid));
    unlinkSync(address.socket);
    const old = createServer((c) => c.end(`MAI-HOST/1 ${JSON.stringify({ ok: false, version: '0.0.1', pid: 1, error: 'this host is Mai 0.0.1, the client Mai 0.1.0' })}\n`));
    await new Promise<void>((resolve) => old.listen(address.socket, resolve));
    chmodSync(address.socket, 0o600);
    try {
      // The CLI's main in this process: the same client code as the spawned command's (the
      // end-to-end refusal is the open socket's case above), without a Mai started for it.
      const run = await runCliInProcess(['status', '--config', config], { stateDir: stateDir(), env: { MAI_STANDALONE: '0' } });
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toMatch(/refused: this host is Mai 0\.0\.1.*\n.*answering in this process/);
    } finally {
      old.close();
    }
  });
});
