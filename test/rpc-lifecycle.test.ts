/**
 * The lifecycle methods are declared without zod (rpc/lifecycle.ts) so `mai serve` answers
 * `initialize` before zod, the other methods' schemas or Mai's core are loaded. Their params checks
 * must still answer exactly what zod answered before (the same issues, paths and messages — the
 * zod schemas they replaced are the oracle below), over the wire as -32602 replies too; and the
 * load order must really be what it is for: nothing zod-bearing before the first reply.
 */
import { appendFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { initializeParamsCheck, noParamsCheck } from '../rpc/lifecycle.ts';
import { InitializeRequest, ShutdownRequest } from '../rpc/protocol.ts';
import type { ParamsSchema } from '../rpc/route.ts';
import { startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';
import { tempDir, writeConfig, type TempDir } from './support/harness.ts';
import { binPath, loopbackConfig, spawnServe } from './support/rpc-client.ts';

/** What protocol.ts declared with zod before the lifecycle moved out of it. */
const zodInitialize = z.looseObject({
  clientInfo: z.looseObject({ name: z.string(), version: z.string().optional() }).optional(),
  capabilities: z.record(z.string(), z.unknown()).optional(),
});
const zodNoParams = z.strictObject({});

const outcome = (schema: ParamsSchema, value: unknown) => {
  const result = schema.safeParse(value);
  return result.success ? 'ok' : result.error.issues.map((i) => ({ path: i.path.map(String), message: i.message }));
};

/** JSON values shaped like initialize params, right and wrong. */
const anyJson = fc.jsonValue({ maxDepth: 2 });
const initializeLike = fc.oneof(
  anyJson,
  fc.record(
    {
      clientInfo: fc.oneof(anyJson, fc.record({ name: anyJson, version: anyJson }, { requiredKeys: [] })),
      capabilities: anyJson,
      processId: anyJson,
    },
    { requiredKeys: [] },
  ),
);

describe('the lifecycle params checks answer what the zod schemas answered', () => {
  it('initialize: the same issues, paths and messages for any JSON value', () => {
    fc.assert(
      fc.property(initializeLike, (value) => {
        expect(outcome(initializeParamsCheck, value)).toEqual(outcome(zodInitialize, value));
      }),
      { numRuns: 500 },
    );
  });

  it('shutdown and the other methods without params: the same for any JSON value', () => {
    fc.assert(
      fc.property(fc.oneof(anyJson, fc.dictionary(fc.string({ maxLength: 4 }), anyJson, { maxKeys: 3 })), (value) => {
        expect(outcome(noParamsCheck, value)).toEqual(outcome(zodNoParams, value));
      }),
      { numRuns: 500 },
    );
  });

  it('the request definitions of protocol.ts validate with the same checks', () => {
    expect(outcome(InitializeRequest.params, { clientInfo: { name: 7 } })).toEqual([{ path: ['clientInfo', 'name'], message: 'Invalid input: expected string, received number' }]);
    expect(outcome(ShutdownRequest.params, { now: true })).toEqual([{ path: [], message: 'Unrecognized key: "now"' }]);
    expect(outcome(InitializeRequest.params, { clientInfo: { name: 'x', version: '1' }, rootUri: null })).toBe('ok');
  });
});

describe('mai serve: the lifecycle over the wire, answered before zod is loaded', () => {
  let server: FakeOpenAIServer;
  let dir: TempDir;
  let config: string;
  beforeAll(async () => {
    server = await startOpenAIServer([{ id: 'alpha', reply: 'hi' }]);
    dir = await tempDir('mai-lifecycle-');
    config = await writeConfig(dir.path, loopbackConfig(server.baseURL));
  });
  afterAll(async () => {
    await server.close();
    await dir.cleanup();
  });

  it('bad initialize and shutdown params are -32602 naming each problem; good ones are answered', async () => {
    const mai = spawnServe({ config, framing: 'ndjson', stateDir: join(dir.path, 'state') });
    const bad = await mai.request('initialize', { clientInfo: { version: 2 }, capabilities: [] });
    expect(bad.error).toMatchObject({
      code: -32602,
      message:
        'Invalid params for initialize: clientInfo.name: Invalid input: expected string, received undefined; clientInfo.version: Invalid input: expected string, received number; capabilities: Invalid input: expected record, received array.',
      data: { code: 'invalid-params', retryable: false },
    });
    expect((await mai.request('initialize', { clientInfo: { name: 'lifecycle-test' }, processId: 1 })).result).toMatchObject({ serverInfo: { name: 'mai' } });
    expect((await mai.request('shutdown', { force: true })).error).toMatchObject({ code: -32602, message: 'Invalid params for shutdown: (params): Unrecognized key: "force".' });
    expect((await mai.request('status', { verbose: true })).error).toMatchObject({ code: -32602, message: 'Invalid params for status: (params): Unrecognized key: "verbose".' });
    expect((await mai.request('shutdown')).result).toBeNull();
    mai.send({ jsonrpc: '2.0', method: 'exit' });
    expect(await mai.exited).toBe(0);
    expect(mai.garbage).toEqual([]);
  });

  // Node's module.register hooks record the load order; Deno has no such hooks (the wire test above runs on both).
  it.skipIf('Deno' in globalThis)('loads neither zod, the schemas nor Mai core before the initialize reply is written, and all of it after', async () => {
    const trace = join(dir.path, 'load-order.txt');
    const hooks = join(dir.path, 'trace-hooks.mjs');
    const preload = join(dir.path, 'trace-preload.mjs');
    const append = (text: string) => `appendFileSync(${JSON.stringify(trace)}, ${text});`;
    await writeFile(hooks, `import { appendFileSync } from 'node:fs';\nexport async function load(url, context, next) { ${append("url + '\\n'")} return next(url, context); }\n`);
    await writeFile(
      preload,
      `import { appendFileSync } from 'node:fs';
import { register } from 'node:module';
register(${JSON.stringify(pathToFileURL(hooks).href)});
const write = process.stdout.write.bind(process.stdout);
let marked = false;
process.stdout.write = (chunk, ...rest) => { if (!marked) { marked = true; ${append("'=== first reply written\\n'")} } return write(chunk, ...rest); };
`,
    );
    appendFileSync(trace, '');
    const mai = spawnServe({ config, framing: 'content-length', stateDir: join(dir.path, 'state'), command: [process.execPath, '--import', pathToFileURL(preload).href, binPath] });
    expect((await mai.request('initialize', { clientInfo: { name: 'trace' } })).result).toMatchObject({ serverInfo: { name: 'mai' } });
    expect((await mai.request('status')).error).toBeUndefined(); // needs Mai and the routes of handlers.ts
    expect((await mai.request('shutdown')).result).toBeNull();
    mai.send({ jsonrpc: '2.0', method: 'exit' });
    expect(await mai.exited).toBe(0);

    const lines = (await readFile(trace, 'utf8')).split('\n').filter(Boolean);
    const mark = lines.indexOf('=== first reply written');
    expect(mark).toBeGreaterThan(0);
    const before = lines.slice(0, mark);
    const after = lines.slice(mark + 1);
    expect(before.some((url) => url.endsWith('/dist/rpc/lifecycle.js'))).toBe(true);
    const heavy = (url: string) =>
      url.includes('/node_modules/zod/') || /\/dist\/rpc\/(protocol|handlers|client|in-process)\.js$/.test(url) || (/\/dist\/core\//.test(url) && !/\/dist\/core\/(errors|log|config\/message-limit)\.js$/.test(url)); // message-limit: one constant, the framing's size limit
    expect(before.filter(heavy)).toEqual([]);
    expect(before.filter((url) => /\/dist\/rpc\/cli\/(chat|batch|status|models|switch)\.js$/.test(url))).toEqual([]);
    for (const loadedLater of ['/node_modules/zod/', '/dist/rpc/handlers.js', '/dist/rpc/protocol.js', '/dist/core/mai.js']) {
      expect(after.some((url) => url.includes(loadedLater))).toBe(true);
    }
  });
});
