/**
 * config/reload on the shared host, with real processes over the real socket. The host is the one
 * for its config file (the socket's name hashes the file's path and content): a reload may re-read
 * that file, after which the host takes the name of the new content (the next client of the edited
 * file reaches it, no second host starts), but may not point the host at another file — refused
 * with the way to reach that file's own host. One host and one client for both cases, in order:
 * the refused reload leaves the host as it was, which the second case then reloads for real.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCliInProcess } from './support/cli-in-process.ts';
import { tempDir, writeConfig, type TempDir } from './support/harness.ts';
import { hostLogs, hostPids, killHosts } from './support/host-state.ts';
import { startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';
import { loopbackConfig, spawnServe, type ServeProcess } from './support/rpc-client.ts';

const hostEnv = { MAI_STANDALONE: '0' };
let dir: TempDir;
let server: FakeOpenAIServer;
let config: string;
let other: string;
let client: ServeProcess;
const stateDir = () => join(dir.path, 'env-state');
const sockets = () => readdirSync(join(stateDir(), 'run', 'mai')).filter((f) => f.endsWith('.sock'));
/**
 * The CLI's main in this process, a client of the running host: its host address is the CLI's own
 * (the config file's path and content). From the sources it cannot start a host on Node: had it not
 * found this one, it would say so on stderr and answer by itself.
 */
const cli = (args: string[]) => runCliInProcess([...args, '--config', config], { stateDir: stateDir(), env: hostEnv });

beforeAll(async () => {
  dir = await tempDir('mai-host-reload-');
  server = await startOpenAIServer([{ id: 'fast-model', reply: 'quick' }]);
  // The owner allows other.yaml for reloads: what stops the host is that it is the host of mai.config.yaml.
  config = await writeConfig(dir.path, loopbackConfig(server.baseURL, 'host: { idleExitMs: 5000 }\nreload: { allow: [./other.yaml] }\n'));
  other = await writeConfig(dir.path, loopbackConfig(server.baseURL, 'models:\n  - id: fast-model\n    priority: 3\n'), 'other.yaml');
  client = spawnServe({ config, framing: 'ndjson', stateDir: stateDir(), env: hostEnv });
});

afterAll(async () => {
  client.child.kill('SIGKILL');
  killHosts(stateDir());
  await server.close();
  await dir.cleanup();
});

it('a reload that points the host at another file is refused, naming mai serve --config for that file; the host serves on', async () => {
  const reply = await client.request('config/reload', { config: './other.yaml' });
  expect(reply.error?.code).toBe(-32014);
  expect(reply.error?.message).toContain(`cannot move Mai's shared host to ${other}`);
  expect(reply.error?.message).toContain(`run \`mai serve --config ${other}\``);
  expect(reply.error?.data).toMatchObject({ code: 'config-not-allowed', file: other, config });
  expect((await client.request('chat/send', { message: 'still here?' })).result).toMatchObject({ text: 'quick' });
  expect((await client.request('config/reload', { config })).result).toEqual({ file: config }); // its own file, named, is fine
  expect(hostPids(stateDir())).toHaveLength(1);
});

it('after its file changed and was reloaded, the host takes the new content’s socket name: the next client reaches it, no second host', async () => {
  expect((await client.request('status')).result).toBeDefined();
  const [before] = sockets();
  writeFileSync(config, `${readFileSync(config, 'utf8')}\n# edited\n`);
  expect((await client.request('config/reload', {})).result).toEqual({ file: config });
  expect(sockets()).toHaveLength(1);
  expect(sockets()[0]).not.toBe(before);
  const connected = (hostLogs(stateDir()).match(/connected/g) ?? []).length;
  const run = await cli(['status']);
  expect(run.code, run.stderr).toBe(0);
  expect(run.stderr).not.toMatch(/not using the shared host/);
  expect((hostLogs(stateDir()).match(/connected/g) ?? []).length).toBe(connected + 1); // the host served it
  expect(hostPids(stateDir())).toHaveLength(1);
  expect((await client.request('chat/send', { message: 'and the first client?' })).result).toMatchObject({ text: 'quick' });
});
