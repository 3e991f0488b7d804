/**
 * The forwarder stays thin: `mai serve` forwarding to the shared host loads neither zod, nor the
 * protocol's schemas, nor vscode-jsonrpc, nor Mai's core (the pipeline, the config schema, the
 * plugins) — only the host's client side (rpc/host/), the byte framing, and the few zod-free
 * leaves of core/ that say where the host lives (the config file lookup, the state folder).
 * The real process is traced with Node's module hooks (ESM loads) and require.cache (CommonJS)
 * while a real host answers a real turn; Deno has no module hooks, so this runs on Node only.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, writeConfig, type TempDir } from './support/harness.ts';
import { startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';
import { binPath, loopbackConfig, spawnServe } from './support/rpc-client.ts';

/** The zod-free leaves of core/ the forwarder may load: where the config and the host's socket are, and the framing's size limit. */
const allowedCore = ['core/config/find.js', 'core/config/message-limit.js', 'core/context/make-dir.js', 'core/errors.js', 'core/state.js'];
const forbiddenPackages = ['zod', 'vscode-jsonrpc', 'openai', 'yaml', 'systeminformation', 'tinypool', 'prom-client', 'node-llama-cpp'];

describe.skipIf('Deno' in globalThis)('the mai serve forwarder', () => {
  let server: FakeOpenAIServer;
  let dir: TempDir;
  let config: string;
  const stateDir = () => join(dir.path, 'state');
  beforeAll(async () => {
    server = await startOpenAIServer([{ id: 'alpha', reply: 'hello from the host' }]);
    dir = await tempDir('mai-forwarder-lean-');
    config = await writeConfig(dir.path, loopbackConfig(server.baseURL, 'host: { idleExitMs: 1500 }\n'));
  });
  afterAll(async () => {
    // The host this test started (its log names its pid) ends with the test.
    const logs = existsSync(stateDir()) ? readdirSync(stateDir()).filter((f) => f.startsWith('host-') && f.endsWith('.log')) : [];
    for (const file of logs) {
      for (const match of readFileSync(join(stateDir(), file), 'utf8').matchAll(/host pid (\d+) serves/g)) {
        try {
          process.kill(Number(match[1]), 'SIGKILL');
        } catch {
          // gone already
        }
      }
    }
    await server.close();
    await dir.cleanup();
  });

  it('answers a turn through the host while loading neither zod, the schemas, vscode-jsonrpc nor Mai core', async () => {
    const trace = join(dir.path, 'loaded.txt');
    const hooks = join(dir.path, 'trace-hooks.mjs');
    const preload = join(dir.path, 'trace-preload.mjs');
    await writeFile(hooks, `import { appendFileSync } from 'node:fs';\nexport async function load(url, context, next) { appendFileSync(${JSON.stringify(trace)}, url + '\\n'); return next(url, context); }\n`);
    await writeFile(
      preload,
      `import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';
register(${JSON.stringify(pathToFileURL(hooks).href)});
const cache = createRequire(import.meta.url).cache;
process.on('exit', () => appendFileSync(${JSON.stringify(trace)}, Object.keys(cache).map((file) => pathToFileURL(file).href + '\\n').join('')));
`,
    );
    const mai = spawnServe({
      config,
      framing: 'content-length',
      stateDir: stateDir(),
      env: { MAI_STANDALONE: '0' },
      command: [process.execPath, '--import', pathToFileURL(preload).href, binPath],
    });
    expect((await mai.request('initialize', { clientInfo: { name: 'lean-test' } })).result).toMatchObject({ serverInfo: { name: 'mai' } });
    const turn = await mai.request('chat/send', { message: 'Hi', model: 'alpha' });
    expect(turn.error, mai.stderr()).toBeUndefined();
    expect(turn.result).toMatchObject({ text: 'hello from the host' });
    // The host's status names this client: the reply came through the host, not an in-process Mai.
    const status = (await mai.request('status')).result as { clients?: Array<{ name: string }> };
    expect(status.clients?.map((c) => c.name).join(' ')).toContain('lean-test');
    expect((await mai.request('shutdown')).result).toBeNull();
    mai.send({ jsonrpc: '2.0', method: 'exit' });
    expect(await mai.exited).toBe(0);

    const loaded = [...new Set(readFileSync(trace, 'utf8').split('\n').filter((url) => url.startsWith('file:')))];
    const ours = (url: string) => /\/dist\/(.*)$/.exec(url)?.[1];
    expect(loaded.map(ours)).toContain('rpc/host/forward.js');
    const packages = [...new Set(loaded.map((url) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1]).filter((name): name is string => name !== undefined))];
    expect(packages.filter((name) => forbiddenPackages.includes(name))).toEqual([]);
    const modules = loaded.map(ours).filter((path): path is string => path !== undefined);
    expect(modules.filter((path) => path.startsWith('core/') && !allowedCore.includes(path))).toEqual([]);
    expect(modules.filter((path) => path.startsWith('plugins/'))).toEqual([]);
    // Nothing of the server: its protocol, schemas, handlers, conformance layer or error mapping.
    const server = ['rpc/mai-protocol.js', 'rpc/handlers.js', 'rpc/dispatcher.js', 'rpc/serve-streams.js', 'rpc/conformance.js', 'rpc/errors.js', 'rpc/client.js', 'rpc/cli/common.js'];
    expect(modules.filter((path) => server.includes(path))).toEqual([]);
  });
});
