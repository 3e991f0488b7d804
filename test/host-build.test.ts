/**
 * A rebuilt Mai reaches a host of its own build (rpc/host/build.ts): the hello names the client's
 * build, and a host whose build is no longer the one on disk — whose lazily loaded chunks a rebuild
 * may have removed — leaves its socket to a new host and serves the clients it has until they
 * leave. Real bundles: the one scripts/build.js wrote (with its build-id.txt), installed in a temp
 * folder with Mai's package.json, then rebuilt in place as scripts/build.js does it when a module
 * changed: the MCP server's chunk, which the old host has not loaded (it loads it for its first MCP
 * client), gets a new name (the old file goes, every import of it names the new one) and the
 * bundle a new id. A `mai serve --mcp` of the rebuilt bundle then needs a host that can load it;
 * clients spawn the installed `mai` bin.
 */
import { cpSync, existsSync, readdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { maiVersion } from '../rpc/version.ts';
import { tempDir, writeConfig, type TempDir } from './support/harness.ts';
import { alive, hostLogs, hostPids, killHosts, until } from './support/host-state.ts';
import { startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';
import { loopbackConfig, repoRoot, runCli, spawnServe, type Reply } from './support/rpc-client.ts';

const hostEnv = { MAI_STANDALONE: '0' };
let dir: TempDir;
let server: FakeOpenAIServer;
let config: string;
let bundle: string;
let mai: string[];
const stateDir = () => join(dir.path, 'env-state');

/** Mai's package with the bundle scripts/build.js wrote, installed in `folder`: its bundle folder and the command that runs its bin. */
function install(folder: string): { bundle: string; mai: string[] } {
  const installed = join(folder, 'dist', 'bundle');
  cpSync(join(repoRoot, 'dist', 'bundle'), installed, { recursive: true });
  cpSync(join(repoRoot, 'package.json'), join(folder, 'package.json'));
  symlinkSync(join(repoRoot, 'node_modules'), join(folder, 'node_modules'));
  expect(existsSync(join(installed, 'build-id.txt')), 'scripts/build.js writes build-id.txt beside the bundle').toBe(true);
  return { bundle: installed, mai: [process.execPath, join(installed, 'mai.js')] };
}

beforeAll(async () => {
  dir = await tempDir('mai-host-build-');
  ({ bundle, mai } = install(join(dir.path, 'pkg')));
  server = await startOpenAIServer([{ id: 'fast-model', reply: 'quick' }]);
  config = await writeConfig(dir.path, loopbackConfig(server.baseURL, 'host: { idleExitMs: 60000 }\n'));
});

/**
 * The MCP server's modules changed: its chunk's name (a hash of its content) changes, the old file
 * goes, and (as scripts/build.js does) the bundle gets the new id — unless `id` is null (files
 * changed under a host without a build: a broken install).
 */
function rebuild(folder: string, id: string | null): void {
  // Both builds of the bundle hold the MCP server in a chunk: the ES modules' (.js, Deno) and the CommonJS one (.cjs, Node).
  const chunks = readdirSync(folder).filter((name) => /\.c?js$/.test(name) && existsSync(join(folder, `${name}.map`)) && readFileSync(join(folder, `${name}.map`), 'utf8').includes('rpc/mcp/server.js'));
  expect(chunks.map((name) => name.replace(/.*\./, '')).sort(), 'the MCP server has a chunk of its own in each build').toEqual(['cjs', 'js']);
  for (const chunk of chunks) {
    const renamed = chunk.replace(/(\.c?js)$/, 'X$1');
    for (const name of readdirSync(folder).filter((n) => /\.c?js$/.test(n))) {
      const text = readFileSync(join(folder, name), 'utf8');
      if (text.includes(chunk)) writeFileSync(join(folder, name), text.replaceAll(chunk, renamed));
    }
    renameSync(join(folder, chunk), join(folder, renamed));
  }
  if (id) writeFileSync(join(folder, 'build-id.txt'), `${id}\n`);
}

const mcpInput = `${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'agent', version: '1' } } })}\n${JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' })}\n`;
const toolsIn = (stdout: string) => JSON.stringify((stdout.trim().split('\n').map((line) => JSON.parse(line) as Reply)[1])?.result);

/**
 * What the installed bin's `mai status` says on the host's socket, said from this process: its
 * hello (the installed bundle's build id on disk now, as the bin reads it), then a status
 * request. Resolves with the host's hello and the reply (a spawned `mai status` cost a runtime
 * start for the same bytes; the spawned clients above show the bin's side).
 */
function statusAtHost(state: string, installed: string): Promise<{ hello: { ok: boolean; pid: number; build?: string }; reply: Reply }> {
  const build = readFileSync(join(installed, 'build-id.txt'), 'utf8').trim();
  const [socket] = readdirSync(join(state, 'run', 'mai')).filter((f) => f.endsWith('.sock'));
  return new Promise((resolve, reject) => {
    const s = connect(join(state, 'run', 'mai', socket!));
    let got = '';
    s.on('data', (chunk) => {
      got += chunk.toString('utf8');
      const lines = got.split('\n');
      if (lines.length < 3) return;
      s.destroy();
      resolve({ hello: JSON.parse(lines[0]!.slice('MAI-HOST/1 '.length)) as { ok: boolean; pid: number; build?: string }, reply: JSON.parse(lines[1]!) as Reply });
    });
    s.on('error', reject);
    s.write(`MAI-HOST/1 ${JSON.stringify({ face: 'mai', version: maiVersion(), name: 'mai status', pid: process.pid, build })}\n`);
    s.write(`${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'status' })}\n`);
  });
}

afterAll(async () => {
  killHosts(stateDir());
  killHosts(join(dir.path, 'broken-state'));
  await server.close();
  await dir.cleanup();
});

it('after a rebuild the next client reaches a new host; the old one serves its own client to the end, then exits', async () => {
  const built = readFileSync(join(bundle, 'build-id.txt'), 'utf8').trim();
  const a = spawnServe({ config, framing: 'ndjson', stateDir: stateDir(), env: hostEnv, command: mai });
  expect((await a.request('chat/send', { message: 'before', model: 'fast-model' })).result).toMatchObject({ text: 'quick' });
  const [old] = hostPids(stateDir());
  expect(hostPids(stateDir())).toHaveLength(1);

  rebuild(bundle, 'rebuilt0000000001');
  const run = await runCli(['serve', '--mcp', '--config', config], { stateDir: stateDir(), env: hostEnv, command: mai, input: mcpInput });
  expect(run.code, run.stderr).toBe(0);
  expect(run.stderr).not.toMatch(/not using the shared host/);
  expect(toolsIn(run.stdout), run.stdout).toContain('"chat"'); // a host that could load the MCP server's new chunk
  const pids = hostPids(stateDir());
  expect(pids, hostLogs(stateDir())).toHaveLength(2);
  const fresh = pids[1]!;
  expect(hostLogs(stateDir())).toContain(`this host runs build ${built}, and build rebuilt0000000001 replaced it on disk`);

  // The old host's client is served on, by it; once it leaves, the old host goes and the new one stays.
  expect((await a.request('chat/send', { message: 'after', model: 'fast-model' })).result).toMatchObject({ text: 'quick' });
  expect(alive(old!)).toBe(true);
  a.end();
  expect(await a.exited).toBe(0);
  await until('the old host to exit', () => !alive(old!), stateDir());
  expect(hostLogs(stateDir())).toMatch(/the host stops: its last client left, and a newer build serves new clients/);
  expect(alive(fresh)).toBe(true);
  // The next client of the rebuilt bundle is served by the new host, which kept its socket: no third one.
  const next = await statusAtHost(stateDir(), bundle);
  expect(next.hello).toMatchObject({ ok: true, pid: fresh, build: 'rebuilt0000000001' });
  expect(next.reply).toMatchObject({ id: 1, result: { counters: expect.any(Object) } });
  expect(hostPids(stateDir())).toHaveLength(2);
});

it('a client of an older build than the one on disk is served by the current host (it only forwards bytes)', async () => {
  const [socket] = readdirSync(join(stateDir(), 'run', 'mai')).filter((f) => f.endsWith('.sock'));
  const reply = await new Promise<string>((resolve, reject) => {
    const s = connect(join(stateDir(), 'run', 'mai', socket!));
    let got = '';
    s.on('data', (chunk) => {
      got += chunk.toString('utf8');
      if (got.includes('\n')) {
        s.destroy();
        resolve(got.slice(0, got.indexOf('\n')));
      }
    });
    s.on('error', reject);
    s.write(`MAI-HOST/1 ${JSON.stringify({ face: 'mai', version: maiVersion(), name: 'older build', pid: process.pid, build: 'older' })}\n`);
  });
  expect(JSON.parse(reply.slice('MAI-HOST/1 '.length))).toMatchObject({ ok: true, build: 'rebuilt0000000001' });
});

it('a host whose files changed under it without a new build id says it cannot load the MCP server (Node); the client answers in its own process, the host serves on', async () => {
  const broken = install(join(dir.path, 'broken'));
  const state = join(dir.path, 'broken-state');
  const first = await runCli(['status', '--config', config], { stateDir: state, env: hostEnv, command: broken.mai });
  expect(first.code, first.stderr).toBe(0);
  rebuild(broken.bundle, null);
  const run = await runCli(['serve', '--mcp', '--config', config], { stateDir: state, env: hostEnv, command: broken.mai, input: mcpInput });
  expect(run.code, run.stderr).toBe(0);
  if ('Deno' in globalThis) {
    // Deno reads the modules a dynamic import names by a literal when it loads the importer, so
    // its host has the MCP server's chunk from its start: nothing is missing, it serves.
    expect(run.stderr).not.toMatch(/not using the shared host/);
  } else {
    expect(run.stderr).toMatch(/refused: this host cannot load its mcp server: .*Cannot find module/);
    expect(run.stderr).toMatch(/answering in this process instead/);
  }
  expect(toolsIn(run.stdout), run.stdout).toContain('"chat"');
  expect(hostPids(state)).toHaveLength(1);
  // It serves on: the next `mai` client of that install is answered by it.
  const next = await statusAtHost(state, broken.bundle);
  expect(next.hello).toMatchObject({ ok: true, pid: hostPids(state)[0] });
  expect(next.reply).toMatchObject({ id: 1, result: { counters: expect.any(Object) } });
  expect(hostPids(state)).toHaveLength(1);
});
