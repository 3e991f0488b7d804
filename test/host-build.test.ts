/**
 * A rebuilt Mai reaches a host of its own build (rpc/host/build.ts): the hello names the client's
 * build, and a host whose build is no longer the one on disk — whose lazily loaded chunks a rebuild
 * may have removed — leaves its socket to a new host and serves the clients it has until they
 * leave. Real bundles: the one scripts/build.js wrote (with its build-id.txt), installed in a temp
 * folder with Mai's package.json, then rebuilt in place as scripts/build.js does it (a changed
 * file, a new id); clients spawn the installed `mai` bin.
 */
import { appendFileSync, cpSync, existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { maiVersion } from '../rpc/version.ts';
import { tempDir, writeConfig, type TempDir } from './support/harness.ts';
import { alive, hostLogs, hostPids, killHosts, until } from './support/host-state.ts';
import { startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';
import { loopbackConfig, repoRoot, runCli, spawnServe } from './support/rpc-client.ts';

const hostEnv = { MAI_STANDALONE: '0' };
let dir: TempDir;
let server: FakeOpenAIServer;
let config: string;
let bundle: string;
let mai: string[];
const stateDir = () => join(dir.path, 'env-state');

beforeAll(async () => {
  dir = await tempDir('mai-host-build-');
  const pkg = join(dir.path, 'pkg');
  bundle = join(pkg, 'dist', 'bundle');
  cpSync(join(repoRoot, 'dist', 'bundle'), bundle, { recursive: true });
  cpSync(join(repoRoot, 'package.json'), join(pkg, 'package.json'));
  symlinkSync(join(repoRoot, 'node_modules'), join(pkg, 'node_modules'));
  expect(existsSync(join(bundle, 'build-id.txt')), 'scripts/build.js writes build-id.txt beside the bundle').toBe(true);
  mai = [process.execPath, join(bundle, 'mai.js')];
  server = await startOpenAIServer([{ id: 'fast-model', reply: 'quick' }]);
  config = await writeConfig(dir.path, loopbackConfig(server.baseURL, 'host: { idleExitMs: 60000 }\n'));
});

afterAll(async () => {
  killHosts(stateDir());
  await server.close();
  await dir.cleanup();
});

it('after a rebuild the next client reaches a new host; the old one serves its own client to the end, then exits', async () => {
  const built = readFileSync(join(bundle, 'build-id.txt'), 'utf8').trim();
  const a = spawnServe({ config, framing: 'ndjson', stateDir: stateDir(), env: hostEnv, command: mai });
  expect((await a.request('chat/send', { message: 'before', model: 'fast-model' })).result).toMatchObject({ text: 'quick' });
  const [old] = hostPids(stateDir());
  expect(hostPids(stateDir())).toHaveLength(1);

  appendFileSync(join(bundle, 'mai.js'), '\n// rebuilt\n');
  writeFileSync(join(bundle, 'build-id.txt'), 'rebuilt0000000001\n');
  const run = await runCli(['status', '--config', config], { stateDir: stateDir(), env: hostEnv, command: mai });
  expect(run.code, run.stderr).toBe(0);
  expect(run.stderr).not.toMatch(/not using the shared host/);
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
  expect((await runCli(['status', '--config', config], { stateDir: stateDir(), env: hostEnv, command: mai })).code).toBe(0);
  expect(hostPids(stateDir())).toHaveLength(2); // the new host kept its socket: no third one
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
