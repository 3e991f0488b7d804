/**
 * The shared host (rpc/host/) with real processes over the real socket: `mai serve` forwarders and
 * CLI calls sharing one host per config, a client that vanishes, a host killed mid-turn, and the
 * idle exit (stale, foreign and open sockets, strangers on the socket: host-bad-input.test.ts).
 *
 * One model server for the file. The cases that only add clients share one host (their own config
 * and state folder), in order, the host kill last; the start race and the idle exit each have a
 * config and state folder of their own, so a host of their own. Every host is killed in afterAll
 * (by the pid its log names). A turn to `slow-model` waits at the model server until the test lets
 * it go (`gate`), so "mid-turn" lasts exactly as long as the test needs, not a fixed 3 s; one to
 * `stream-model` streams deltas for ~3 s (a client that vanishes is seen at the next write).
 */
import { readdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { hostAddress } from '../rpc/host/address.ts';
import { tempDir, writeConfig, type TempDir } from './support/harness.ts';
import { alive, hostLogs as logsIn, hostPids as pidsIn, killHosts, until as waitFor } from './support/host-state.ts';
import { runCliInProcess } from './support/cli-in-process.ts';
import { startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';
import { loopbackConfig, maiEnv, runCli, spawnServe, type Reply, type ServeProcess } from './support/rpc-client.ts';
import { ends, spawnVanishing } from './support/vanishing-client.ts';
import { wireSession, type WireSession } from './support/wire-session.ts';

const hostEnv = { MAI_STANDALONE: '0' };
const slowReply = 'one two three four five six seven eight nine ten';

/** Held turns: released by `gate.open()` (and always after each test). */
function held() {
  let open = () => {};
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}
let gate = held();

let dir: TempDir;
let server: FakeOpenAIServer;
const scenes: Scene[] = [];

interface Scene {
  stateDir: string;
  config: string;
  serve(extra?: Record<string, string>): ServeProcess;
  cli(args: string[], env?: Record<string, string>): ReturnType<typeof runCli>;
  /**
   * The CLI's main in this process, a client of the host that already runs (from the sources it
   * could not start one on Node): the same client code as the bin's, without a runtime started for it.
   */
  cliHere(args: string[]): ReturnType<typeof runCli>;
  /** A JSON-RPC client on the running host's socket from this process (no forwarder): the host serves it as any client. */
  direct(): WireSession;
  hostLogs(): string;
  hostPids(): number[];
  until<T>(what: string, probe: () => T | undefined | false): Promise<T>;
  /** SIGKILLs every `mai serve` this scene started that still runs. */
  killClients(): void;
}

/** A config file and a state folder of its own: the host for them is nobody else's. */
async function scene(name: string, host: string): Promise<Scene> {
  const folder = join(dir.path, name);
  await mkdir(folder);
  const config = await writeConfig(folder, loopbackConfig(server.baseURL, `host: ${host}\n`).replace('backoffMs: 0 }', 'backoffMs: 0, parallelPerModel: 4 }'));
  const stateDir = join(folder, 'env-state');
  const clients: ServeProcess[] = [];
  const sockets: Socket[] = [];
  const made: Scene = {
    stateDir,
    config,
    serve(extra = {}) {
      const client = spawnServe({ config, framing: 'ndjson', stateDir, env: { ...hostEnv, ...extra } });
      clients.push(client);
      return client;
    },
    cli: (args, env = {}) => runCli([...args, '--config', config], { stateDir, env: { ...hostEnv, ...env } }),
    cliHere: (args) => runCliInProcess([...args, '--config', config], { stateDir, env: hostEnv }),
    direct() {
      const socket = connect(hostAddress({ flag: config, env: maiEnv(stateDir, hostEnv) }).socket);
      sockets.push(socket);
      return wireSession('ndjson', socket, socket);
    },
    hostLogs: () => logsIn(stateDir),
    hostPids: () => pidsIn(stateDir),
    until: (what, probe) => waitFor(what, probe, stateDir),
    killClients: () => {
      for (const client of clients.splice(0)) client.child.kill('SIGKILL');
      for (const socket of sockets.splice(0)) socket.destroy();
    },
  };
  scenes.push(made);
  return made;
}

beforeAll(async () => {
  dir = await tempDir('mai-host-');
  server = await startOpenAIServer([
    { id: 'slow-model', reply: slowReply, chunks: 10, chunkDelayMs: 10, hold: () => gate.opened },
    { id: 'fast-model', reply: 'quick' },
    // ~3 s of deltas: the turn is still streaming when the test acts on it.
    { id: 'stream-model', reply: 'word '.repeat(60), chunks: 60, chunkDelayMs: 50 },
  ]);
});

afterAll(async () => {
  gate.open();
  for (const s of scenes) s.killClients();
  for (const s of scenes) killHosts(s.stateDir);
  await server.close();
  await dir.cleanup();
});

const sent = (content: string) => server.requests.find((r) => r.messages.at(-1)?.content === content);

describe('one host, many clients', () => {
  let s: Scene;
  beforeAll(async () => {
    s = await scene('shared', '{ idleExitMs: 60000, helloTimeoutMs: 500 }');
  });
  beforeEach(() => {
    gate = held();
    server.requests.length = 0;
  });
  afterEach(() => {
    gate.open();
    s.killClients();
  });

  /** `mai status --json` answered by the running host (a Mai of its own would have counted no turns, and say so on stderr). */
  async function status(): Promise<{ counters: { turns: number } } & Record<string, unknown>> {
    const run = await s.cliHere(['status', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).not.toMatch(/not using the shared host/);
    return JSON.parse(run.stdout) as { counters: { turns: number } };
  }
  const connections = () => (s.hostLogs().match(/connected/g) ?? []).length;

  it('two mai serve clients share one host; mai status from a third client sees both turns; each forwarder exits on shutdown and exit though its stdin stays open, as an editor expects (0, or 1 without shutdown)', async () => {
    const connectedBefore = connections();
    const [a, b] = [s.serve(), s.serve()];
    await a.request('initialize', { clientInfo: { name: 'editor-a' } });
    await b.request('initialize', { clientInfo: { name: 'editor-b' } });
    const before = ((await a.request('status')).result as { counters: { turns: number } }).counters.turns;
    const turns = [a.request('chat/send', { message: 'from a', model: 'slow-model' }), b.request('chat/send', { message: 'from b', model: 'slow-model' })];
    await s.until('both turns at the model server', () => server.requests.length === 2);
    const seen = await status();
    expect(seen.counters.turns).toBe(before + 2); // one Mai counted both clients' turns
    gate.open();
    const replies = await Promise.all(turns);
    for (const reply of replies) expect(reply.result, JSON.stringify(reply)).toMatchObject({ model: 'slow-model', text: slowReply });
    expect(s.hostPids()).toHaveLength(1);
    expect(connections() - connectedBefore).toBe(3); // a, b and the status call
    // (A forwarder whose input ends exits 0 too: the idle case below.)
    expect((await a.request('shutdown')).result).toBeNull();
    a.send({ jsonrpc: '2.0', method: 'exit' });
    expect(await a.exited).toBe(0);
    b.send({ jsonrpc: '2.0', method: 'exit' });
    expect(await b.exited).toBe(1);
  });

  // a is an editor's forwarder, killed; b another client of the host (on its socket from here: the
  // forwarders' own part, two of them on one host, is the case above).
  it('a client whose pipe is killed mid-turn cancels its own turn only', async () => {
    const [a, b] = [s.serve(), s.direct()];
    const turnB = b.request('chat/send', { message: 'from b', model: 'slow-model' });
    a.request('chat/send', { message: 'from a', model: 'slow-model' }).catch(() => {}); // a never reads its reply
    await s.until(`both turns at the model server (a: ${a.stderr()})`, () => server.requests.length === 2);
    a.child.kill('SIGKILL'); // the editor and its sidecar vanish: the host sees the socket close
    const fromA = await s.until('the model server to see a leave', () => {
      const request = sent('from a');
      return request?.clientClosed ? request : undefined;
    });
    expect(fromA.clientClosed).toBe(true);
    expect(sent('from b')?.clientClosed).toBeFalsy(); // b's turn is still held at the server, alive
    gate.open();
    const reply = await turnB;
    expect(reply.result, JSON.stringify(reply)).toMatchObject({ text: slowReply });
    expect(sent('from b')?.clientClosed).toBeFalsy();
  });

  it('a forwarder whose editor vanishes (stdin, stdout and stderr closed at once, mid-turn) exits; the host serves on', async () => {
    // The editor's ends are socketpairs, as Neovim's jobs and Node's child_process hand them (Deno's
    // child_process gives pipes, whose write end cannot see its reader gone before a write: so the
    // pairs are made here, on both runtimes). The turn is held at the model server: nothing is due
    // to go out, so the forwarder must see its editor gone by probing its stdout and stderr
    // (rpc/client-gone.ts), not at a write.
    const a = await spawnVanishing({
      transport: 'socketpair',
      dir: dirname(s.config),
      config: s.config,
      env: { ...hostEnv, MAI_STATE_DIR: s.stateDir, XDG_STATE_HOME: s.stateDir, XDG_RUNTIME_DIR: join(s.stateDir, 'run') },
    });
    onTestFinished(() => a.kill());
    a.send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} });
    await a.waitFor((m) => m.id === 1);
    a.send({ jsonrpc: '2.0', id: 'gone', method: 'chat/send', params: { message: 'from a', model: 'slow-model', progressToken: 'p' } });
    await s.until('the turn to reach the model server', () => sent('from a'));
    expect(a.kindOf('stdout')).toBe('socket');
    a.close(ends);
    expect(await a.goneWithin(20_000), a.stderr()).toBe(true);
    await s.until('the host to cancel the turn at the model server', () => sent('from a')?.clientClosed);
    const [pid] = s.hostPids();
    expect(alive(pid!)).toBe(true);
    const connected = connections();
    await status(); // the host answers the next client
    expect(connections()).toBe(connected + 1);
    expect(s.hostPids()).toEqual([pid]);
  });

  it('mai serve --mcp forwards to the same host', async () => {
    const run = await runCli(['serve', '--mcp', '--config', s.config], {
      stateDir: s.stateDir,
      env: hostEnv,
      input: `${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'agent', version: '1' } } })}\n${JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' })}\n`,
    });
    expect(run.code, run.stderr).toBe(0);
    const replies = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as Reply);
    expect(replies[0]?.result).toMatchObject({ serverInfo: { name: 'mai' } });
    expect(JSON.stringify(replies[1]?.result)).toContain('"chat"');
    expect(s.hostLogs()).toMatch(/mai serve --mcp/);
    expect(s.hostPids()).toHaveLength(1);
  });

  // Last: it kills the host the cases above shared.
  // Once flaky under load (2 of ~6 full-suite runs): the next request connected to the dying host's
  // socket as its process closed it and failed with ECONNRESET, which was not taken for "no host".
  it('a host killed mid-turn: a clear retryable error, the next request starts a host, no conversation lost', async () => {
    const a = s.serve();
    const first = await a.request('chat/send', { message: 'remember this', model: 'fast-model' });
    const conversationId = (first.result as { conversationId: string }).conversationId;
    const lost = a.request('chat/send', { message: 'a long one', conversationId, model: 'slow-model' });
    await s.until('the turn at the model server', () => server.requests.length === 2);
    const [pid] = s.hostPids();
    process.kill(pid!, 'SIGKILL');
    const reply = await lost;
    expect(reply.error?.code).toBe(-32050);
    expect(reply.error?.message).toMatch(/host stopped .*Retry/);
    expect(reply.error?.data).toMatchObject({ code: 'host-lost', retryable: true });
    const again = await a.request('chat/send', { message: 'and again', conversationId, model: 'fast-model' });
    expect(again.result, `${JSON.stringify(again)}\nclient stderr: ${a.stderr()}\nhost logs: ${s.hostLogs()}`).toMatchObject({ conversationId, text: 'quick' });
    expect(s.hostPids()).toHaveLength(2);
    const conversation = await a.request('conversations/get', { id: conversationId });
    const contents = (conversation.result as { messages: Array<{ text: string }> }).messages.map((m) => m.text);
    expect(contents).toEqual(expect.arrayContaining(['remember this', 'quick', 'and again']));
    expect(contents).not.toContain('a long one');
  });
});

// Each with its own config and state folder (so its own host), at the same time.
describe.concurrent('a host of its own', () => {
  it('two clients starting at once end with one host', async () => {
    const s = await scene('race', '{ idleExitMs: 60000 }');
    const runs = await Promise.all([s.cli(['status']), s.cli(['models'])]);
    for (const run of runs) expect(run.code, run.stderr).toBe(0);
    expect(s.hostPids()).toHaveLength(1);
  });

  it('host.idleExitMs 0: the host a batch starts serves it, then exits as soon as the batch leaves', async () => {
    const s = await scene('idle-zero', '{ idleExitMs: 0 }');
    const run = await runCli(['batch', '--json', '-m', 'fast-model', '--config', s.config], { stateDir: s.stateDir, env: hostEnv, input: 'first\nsecond\n' });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).not.toMatch(/not using the shared host/); // the host waited for the batch that started it
    expect(run.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { text: string }).text)).toEqual(['quick', 'quick']);
    const pids = s.hostPids();
    expect(pids).toHaveLength(1);
    await s.until('the host to exit once its only client left', () => !alive(pids[0]!));
    expect(s.hostLogs()).toMatch(/client \S+ \(mai batch\) connected/);
    expect(s.hostLogs()).toMatch(/the host stops: no client for 0 ms \(host\.idleExitMs\)/);
    expect(readdirSync(join(s.stateDir, 'run', 'mai')).filter((f) => f.endsWith('.sock'))).toEqual([]);
  });

  it('a forwarder ends with its input; the host exits once idle', async () => {
    const s = await scene('idle', '{ idleExitMs: 1000 }');
    onTestFinished(() => s.killClients());
    const a = s.serve();
    await a.request('initialize', {});
    const pids = s.hostPids();
    expect(pids).toHaveLength(1);
    a.end();
    expect(await a.exited).toBe(0);
    await s.until('the idle host to exit', () => !alive(pids[0]!));
    expect(s.hostLogs()).toMatch(/the host stops: no client for 1000 ms \(host\.idleExitMs\)/);
    expect(readdirSync(join(s.stateDir, 'run', 'mai')).filter((f) => f.endsWith('.sock'))).toEqual([]);
  });
});
