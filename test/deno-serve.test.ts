/**
 * Mai on Deno from the TypeScript sources: the README's own `deno run … rpc/bin.ts serve` commands
 * (read from README.md and run by a shell, so the documented commands are the tested ones) driven
 * over real pipes in both framings against the loopback OpenAI server; the CLI commands with the
 * same permissions; the HTTP-only command; and a permission withheld — no --allow-sys/--allow-run:
 * CPU, memory and GPU are null with the reason, the server answers; no --allow-net: the backend is
 * unreachable naming the flag; no --allow-ffi: GGUF models are listed as unavailable naming the flag, never tried.
 * Every `mai` here is Deno whichever runtime runs the tests, so the spawning cases run once, in the
 * Deno suite (`npm run test:deno`); under Node's they would start the very same Deno processes again.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';
import { putDemoModels } from './support/demo-models.ts';
import { denoBin, tempDir, writeConfig, type TempDir } from './support/harness.ts';
import { repoRoot, runCli, spawnServe, type Reply, type ServeProcess, type WireFraming } from './support/rpc-client.ts';

/** The README's Deno commands for `mai serve` (every feature; HTTP backends only), each on one line. */
async function readmeCommands(): Promise<{ full: string; httpOnly: string }> {
  const readme = await readFile(join(repoRoot, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => (m[1] ?? '').replace(/\\\n\s*/g, ' ').trim());
  const commands = blocks.filter((b) => /^deno run .* rpc\/bin\.ts serve$/.test(b));
  const [full, httpOnly] = commands;
  if (commands.length !== 2 || !full || !httpOnly) throw new Error('README.md should hold two ```sh blocks with `deno run … rpc/bin.ts serve`');
  return { full, httpOnly };
}

/**
 * The command without `serve`, minus the flags in `withhold` (`--allow-sys` also drops
 * `--allow-sys=…`) and with `replace`'s flags swapped for the words given.
 */
function prefix(command: string, withhold: readonly string[] = [], replace: Record<string, string> = {}): string[] {
  const words = command.replace(/ serve$/, '').split(' ');
  const flagOf = (w: string) => w.split('=')[0] ?? w;
  for (const flag of [...withhold, ...Object.keys(replace)]) expect(words.some((w) => flagOf(w) === flag), `the README command has ${flag}`).toBe(true);
  const kept = words.filter((w) => !withhold.includes(flagOf(w))).map((w) => replace[flagOf(w)] ?? w);
  // exec: the shell becomes deno, so killing the child kills Mai.
  return ['sh', '-c', `exec ${kept.join(' ')} "$@"`, 'sh'];
}

const statusResources = (reply: Reply) => (reply.result as { resources: Record<string, unknown> }).resources;

describe('the test files run on the runtime the suite names', () => {
  it('Deno under `npm run test:deno`, Node otherwise', () => {
    const onDeno = 'Deno' in globalThis;
    expect(onDeno).toBe(process.env.MAI_TEST_RUNTIME === 'deno');
    expect(existsSync(denoBin)).toBe(true);
  });
});

describe.runIf('Deno' in globalThis)('mai serve on Deno with the README permissions', () => {
  let server: FakeOpenAIServer;
  let dir: TempDir;
  let config: string;
  let commands: { full: string; httpOnly: string };
  let mai: ServeProcess | undefined;
  /** State goes where the README's --allow-write points: $XDG_STATE_HOME/mai. */
  const stateDir = () => join(dir.path, 'xdg', 'mai');
  const env = () => ({ XDG_STATE_HOME: join(dir.path, 'xdg'), PATH: `${dirname(denoBin)}:${process.env.PATH ?? ''}` });
  const serve = (framing: WireFraming, withhold: readonly string[] = [], options: { command?: string; replace?: Record<string, string> } = {}) =>
    (mai = spawnServe({ config, framing, stateDir: stateDir(), env: env(), command: prefix(options.command ?? commands.full, withhold, options.replace) }));

  beforeEach(async () => {
    commands = await readmeCommands();
    server = await startOpenAIServer([
      { id: 'alpha', reply: 'Alpha answers.', chunks: 3 },
      { id: 'beta', reply: 'Beta answers.' },
    ]);
    dir = await tempDir('mai-deno-');
    // Sampling on (a tinypool worker under Deno); no stateDir in the config: the default applies.
    config = await writeConfig(
      dir.path,
      `backends:
  - use: openai
    name: loop
    options: { baseURL: "${server.baseURL}" }
models:
  - id: alpha
  - id: beta
scorers:
  - use: context-fit
monitor: { enabled: true, intervalMs: 200, sampleTimeoutMs: 1500 }
context: { summary: digest }
`,
    );
  });
  afterEach(async () => {
    mai?.child.kill();
    if (mai) await mai.exited;
    mai = undefined;
    await server.close();
    await dir.cleanup();
  });

  /** status, asked until `ready` holds for it (the first worker sample takes ~0.5 s). */
  async function statusUntil(p: ServeProcess, ready: (resources: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const reply = await p.request('status');
      expect(reply.error).toBeUndefined();
      const resources = statusResources(reply);
      if (ready(resources) || Date.now() > deadline) return resources;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** initialize, answered as over any framing. */
  async function initialize(p: ServeProcess): Promise<void> {
    const init = await p.request('initialize', { processId: null, rootUri: null, capabilities: {} });
    expect(init.result).toMatchObject({ serverInfo: { name: 'mai' }, capabilities: { progress: true } });
  }

  /** A chat/send streamed as $/progress, its conversation stored where --allow-write lets Mai write. */
  async function streamedChat(p: ServeProcess, message: string): Promise<void> {
    const chat = await p.request('chat/send', { message, progressToken: 'p1' });
    expect(chat.error).toBeUndefined();
    expect(chat.result).toMatchObject({ text: 'Alpha answers.', model: 'alpha', finishReason: 'stop' });
    const deltas = p.messages.filter((m): m is Reply => !Array.isArray(m) && m.method === '$/progress');
    expect(deltas.length).toBeGreaterThanOrEqual(3);
    const conversationId = (chat.result as { conversationId: string }).conversationId;
    expect(JSON.stringify(await readdir(join(stateDir(), 'conversations'), { recursive: true }))).toContain(conversationId);
  }

  /** shutdown, then exit: code 0, nothing on stdout but well-framed messages, no uncaught error. */
  async function shutdownAndExit(p: ServeProcess): Promise<void> {
    expect((await p.request('shutdown')).result).toBeNull();
    p.send({ jsonrpc: '2.0', method: 'exit' });
    expect(await p.exited).toBe(0);
    expect(p.garbage).toEqual([]);
    expect(p.stderr()).not.toMatch(/Uncaught|NotCapable/);
  }

  // The same lifecycle in the Content-Length framing: the without --allow-sys test below.
  it('answers initialize, status, a streamed chat/send, shutdown and exit (ndjson)', async () => {
    const p = serve('ndjson');
    await initialize(p);
    // A sample from the worker thread (it carries a trend), with the metrics --allow-sys grants.
    const resources = await statusUntil(p, (r) => r.trend !== undefined);
    expect(resources.trend).toBeDefined();
    expect(resources.cpuLoad).toEqual(expect.any(Number));
    expect(resources.memTotalBytes).toBeGreaterThan(0);
    expect(resources.memFreeBytes).toBeGreaterThan(0);
    expect(resources.unavailable).toBeUndefined();
    await streamedChat(p, 'Hello from Deno?');
    await shutdownAndExit(p);
  }, 60_000);

  // Three runs, each needing what the next cannot show: a turn streamed (the network, the conversation
  // written), the pin written (switch checks `beta` against the catalogue `mai models` lists, over the same
  // loopback network), the pin read back by a new process with the backends. (A fourth, `mai models`,
  // needed nothing more; cli-commands.test.ts runs every command in the Deno suite.)
  it('the CLI commands: chat streams to stdout, switch persists the pin, status reads it as JSON', async () => {
    const cli = (args: string[]) => runCli([...args, '--config', config], { stateDir: stateDir(), env: env(), command: prefix(commands.full) });
    const chat = await cli(['chat', 'Say', 'hello']);
    expect(chat.code, chat.stderr).toBe(0);
    expect(chat.stdout).toBe('Alpha answers.\n');
    const pin = await cli(['switch', 'beta']);
    expect(pin.code, pin.stderr).toBe(0);
    // That a chat then answers with the pinned model is test/cli-commands.test.ts's (in the Deno suite too); here the
    // pin is read back from the state folder under the README's permissions by status.
    const status = await cli(['status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ pinned: 'beta', backends: [{ name: 'loop', reachable: true }] });
  }, 60_000);

  it('without --allow-sys and --allow-run: CPU, memory and GPU are null with the reason, and initialize, a streamed chat/send, shutdown and exit are answered (content-length)', async () => {
    const p = serve('content-length', ['--allow-sys', '--allow-run']);
    await initialize(p);
    // Once the worker's first sample is in, the reasons are its own (not "not in yet").
    const first = await statusUntil(p, (r) => JSON.stringify(r.unavailable ?? []).includes('--allow-sys'));
    expect(first).toMatchObject({ cpuLoad: null, memFreeBytes: null, memTotalBytes: null, gpus: [] });
    const unavailable = first.unavailable as string[];
    expect(unavailable).toEqual(
      expect.arrayContaining([expect.stringMatching(/^cpu: .*--allow-sys=cpus,loadavg/), expect.stringMatching(/^memory: .*--allow-sys=systemMemoryInfo/), expect.stringMatching(/^gpu: .*--allow-run/)]),
    );
    await streamedChat(p, 'Still there?');
    // Samples keep coming without killing their worker: a later one says the same.
    const later = await statusUntil(p, (r) => Number(r.sampledAt) > Number(first.sampledAt));
    expect(later.sampledAt).toBeGreaterThan(first.sampledAt as number);
    expect(later).toMatchObject({ cpuLoad: null, memTotalBytes: null });
    await shutdownAndExit(p);
  }, 60_000);

  it('the HTTP-only command: CPU and memory from the narrow --allow-sys, GPU unknown without --allow-run, chat answers', async () => {
    const p = serve('ndjson', [], { command: commands.httpOnly });
    const resources = await statusUntil(p, (r) => r.trend !== undefined);
    expect(resources.cpuLoad).toEqual(expect.any(Number));
    expect(resources.memTotalBytes).toBeGreaterThan(0);
    expect(resources.unavailable).toEqual([expect.stringMatching(/^gpu: .*--allow-run/)]);
    const chat = await p.request('chat/send', { message: 'Hello?' });
    expect(chat.result).toMatchObject({ text: 'Alpha answers.', model: 'alpha' });
    expect(p.garbage).toEqual([]);
    expect(p.stderr()).not.toMatch(/Uncaught|NotCapable/);
  }, 60_000);

  it('without --allow-net: the backend is unreachable naming the flag, and the server goes on answering', async () => {
    const p = serve('ndjson', ['--allow-net']);
    const status = await p.request('status');
    expect((status.result as { backends: unknown[] }).backends).toEqual([
      expect.objectContaining({ name: 'loop', reachable: false, error: expect.stringContaining('--allow-net'), host: 'local', local: true }),
    ]);
    const chat = await p.request('chat/send', { message: 'anyone?' });
    expect(chat.error).toMatchObject({ code: expect.any(Number), message: expect.stringMatching(/No model is available/) });
    expect((await p.request('status')).error).toBeUndefined();
    expect(server.requests).toHaveLength(0);
  }, 60_000);

  it('GGUF models run in-process with --allow-ffi and the narrowest --allow-sys; without --allow-ffi they are unavailable (naming the flag, once), never tried, and the HTTP backend answers', async () => {
    await putDemoModels(join(dir.path, 'models'));
    config = await writeConfig(
      dir.path,
      `backends:
  - use: gguf
    options: { folders: [./models], lmStudioFolders: [], ollamaFolders: [], threads: 1, seed: 3 }
  - use: openai
    name: loop
    options: { baseURL: "${server.baseURL}" }
models:
  - id: mai-demo-small   # named, so it stays listed beside the real models alpha and beta
scorers:
  - use: context-fit
fallback: { retries: 0 }
monitor: { enabled: true, intervalMs: 200, gpu: true }
context: { summary: digest }
`,
    );
    // The README's "narrowest --allow-sys that keeps every feature", with sampling (GPU included) on.
    const p = serve('ndjson', [], { replace: { '--allow-sys': '--allow-sys=cpus,loadavg,systemMemoryInfo,homedir,uid,hostname' } });
    // Loading node-llama-cpp and the model under Deno took over 15 s at load 15 (a CI flake): a minute.
    const gguf = await p.request('chat/send', { message: 'Tell me about the sea.', model: 'mai-demo-small', maxTokens: 16 }, 60_000);
    expect(gguf.error).toBeUndefined();
    const result = gguf.result as { model: string; text: string; usage: { completionTokens: number } };
    expect(result.model).toBe('mai-demo-small');
    expect(result.usage.completionTokens).toBeGreaterThan(0);
    expect(result.text.length).toBeGreaterThan(0);
    const resources = await statusUntil(p, (r) => r.trend !== undefined);
    expect(resources).toMatchObject({ cpuLoad: expect.any(Number), memTotalBytes: expect.any(Number) });
    expect(resources.unavailable).toBeUndefined();
    expect(p.stderr()).not.toMatch(/Uncaught|NotCapable/);
    p.child.kill();
    await p.exited;

    // Without --allow-ffi the GGUF models are listed once as unavailable, naming the flag; status
    // shows gguf as not usable; a turn never tries them (no attempt, no repeated message).
    const denied = serve('ndjson', ['--allow-ffi']);
    const flag = "node-llama-cpp's native addon needs Deno's --allow-ffi permission";
    const listed = (await denied.request('models/list')).result as { models: Array<{ id: string; fits: boolean; reason?: string }> };
    const small = listed.models.find((m) => m.id === 'mai-demo-small');
    expect(small).toMatchObject({ fits: false, reason: expect.stringContaining(flag) });
    expect(small!.reason!.split(flag)).toHaveLength(2); // said once
    const status = (await denied.request('status')).result as { backends: Array<{ name: string; reachable: boolean; error?: string }> };
    expect(status.backends.find((b) => b.name === 'gguf')).toMatchObject({ reachable: false, error: expect.stringContaining(flag) });
    const answered = await denied.request('chat/send', { message: 'Tell me about the sea.', maxTokens: 16 });
    expect(answered.result).toMatchObject({ text: 'Alpha answers.', model: 'alpha', attempts: [{ model: 'alpha' }] });
    const named = await denied.request('chat/send', { message: 'Tell me about the sea.', model: 'mai-demo-small', maxTokens: 16 });
    expect(named.error).toMatchObject({ message: expect.stringContaining(flag), data: { code: 'pinned-model-unfit' } });
    expect(named.error!.message.split(flag)).toHaveLength(2);
    expect(denied.garbage).toEqual([]);
    expect(denied.stderr()).not.toMatch(/Uncaught/);
  }, 90_000);
});
