/**
 * The CLI, each command a JSON-RPC client of Mai: chat (argument, piped stdin, --json, -c, -m),
 * status, models, switch (the pin persists across runs), --help everywhere, and usage errors.
 * Most cases run `main(argv, io)` in this process (test/support/cli-in-process.ts): each run builds
 * its own Mai from the config file and the state folder on disk and closes it, as a new process
 * would, against the same loopback server. The real binary (`node dist/bundle/mai.js`, `deno run …`)
 * keeps its smoke tests at the end: a turn over real pipes, exit codes, the REPL on a terminal,
 * and a turn through the shared host.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';
import { tempDir, writeConfig, type TempDir } from './support/harness.ts';
import { runCliInProcess } from './support/cli-in-process.ts';
import { hostPids, killHosts } from './support/host-state.ts';
import { binPath, loopbackConfig, maiEnv, runCli, type CliRun } from './support/rpc-client.ts';

describe('the mai CLI', () => {
  let server: FakeOpenAIServer;
  let dir: TempDir;
  let config: string;
  let mai: (args: string[], input?: string) => Promise<CliRun>;
  beforeEach(async () => {
    server = await startOpenAIServer([
      { id: 'alpha', reply: 'Alpha says hello.', chunks: 4 },
      { id: 'beta', reply: 'Beta says hello.', chunks: 4 },
      { id: 'broken', reply: 'never', behaviour: { kind: 'status', status: 500, body: { error: { message: 'the GPU caught fire' } } } },
    ]);
    dir = await tempDir('mai-cli-');
    config = await writeConfig(dir.path, loopbackConfig(server.baseURL, 'models:\n  - id: alpha\n  - id: beta\n  - id: broken\n'));
    mai = (args, input) => runCliInProcess([...args, '--config', config], { stateDir: join(dir.path, 'state'), ...(input === undefined ? {} : { input }) });
  });
  afterEach(async () => {
    killHosts(join(dir.path, 'state'));
    await server.close();
    await dir.cleanup();
  });

  it('chat MESSAGE streams the answer to stdout; piped stdin is the message too', async () => {
    const run = await mai(['chat', 'Say', 'hello']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe('Alpha says hello.\n');
    expect(server.requests[0]?.messages.at(-1)).toEqual({ role: 'user', content: 'Say hello' });
    const piped = await mai(['chat', '-m', 'beta'], 'A question from a pipe\n');
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stdout).toBe('Beta says hello.\n');
    expect(server.requests[1]).toMatchObject({ model: 'beta', messages: [{ role: 'user', content: 'A question from a pipe' }] });
  });

  it('chat --json prints the result; -c continues that conversation in a new run (a new Mai, from disk)', async () => {
    const first = await mai(['chat', '--json', '-s', 'Be terse.', 'One']);
    expect(first.code, first.stderr).toBe(0);
    const result = JSON.parse(first.stdout) as { conversationId: string; text: string; model: string; usage: object; attempts: unknown[] };
    expect(result).toMatchObject({ text: 'Alpha says hello.', model: 'alpha', attempts: [{ model: 'alpha' }] });
    const second = await mai(['chat', '--json', '-c', result.conversationId, 'Two']);
    expect(JSON.parse(second.stdout)).toMatchObject({ conversationId: result.conversationId });
    expect(server.requests[1]?.messages.map((m) => m.content)).toEqual(['Be terse.', 'One', 'Alpha says hello.', 'Two']);
  });

  it('chat failures are a message on stderr and exit code 1; no message at all is a usage error', async () => {
    const unknown = await mai(['chat', '-m', 'gamma', 'hi']);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toMatch(/Unknown model "gamma"\. Known models: alpha, beta, broken/);
    const empty = await mai(['chat'], '');
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/no message/);
  });

  it('every answer names its conversation id on stderr, so a script gets it without --json', async () => {
    const run = await mai(['chat', 'hi']);
    expect(run.code, run.stderr).toBe(0);
    const id = /\(alpha · continue with: mai chat -c (\S+)\)/.exec(run.stderr)?.[1];
    expect(id).toBeDefined();
    const next = await mai(['chat', '--json', '-c', id!, 'again']);
    expect(JSON.parse(next.stdout)).toMatchObject({ conversationId: id });
  });

  it('-m MODEL that fails falls back visibly: stderr says who answered and why, --json carries it in attempts', async () => {
    const run = await mai(['chat', '-m', 'broken', 'hi']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe('Alpha says hello.\n');
    expect(run.stderr).toMatch(/^mai: answered by alpha \(broken failed: .*GPU caught fire.*\)$/m);
    const json = await mai(['chat', '--json', '-m', 'broken', 'hi']);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ model: 'alpha', attempts: [{ model: 'broken', error: { code: 'server-error' } }, { model: 'alpha' }] });
    expect(json.stderr).toMatch(/answered by alpha \(broken failed/);
    // The named model answering says nothing more than the id.
    const ok = await mai(['chat', '-m', 'beta', 'hi']);
    expect(ok.stderr).not.toMatch(/answered by/);
  });

  it('chat --json that fails prints one JSON error object on stdout (exit 1)', async () => {
    const run = await mai(['chat', '--json', '-m', 'gamma', 'hi']);
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({ error: { code: -32602, message: expect.stringMatching(/Unknown model "gamma"/), data: { code: 'unknown-model' } } });
    expect(run.stderr).toMatch(/Unknown model "gamma"/);
  });

  it('mai conversations lists, shows and deletes the stored conversations', async () => {
    const first = JSON.parse((await mai(['chat', '--json', 'Remember the fig.'])).stdout) as { conversationId: string };
    const list = await mai(['conversations']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`${first.conversationId}\\s+2\\s+\\S+\\s+Remember the fig`));
    const listed = JSON.parse((await mai(['conversations', 'list', '--json'])).stdout) as { conversations: Array<{ id: string }> };
    expect(listed.conversations.map((c) => c.id)).toEqual([first.conversationId]);
    const shown = await mai(['conversations', 'show', first.conversationId]);
    expect(shown.stdout).toMatch(/^user · .*\nRemember the fig\.$/m);
    expect(shown.stdout).toMatch(/assistant \[alpha\] · .*\nAlpha says hello\./);
    expect(JSON.parse((await mai(['conversations', 'show', first.conversationId, '--json'])).stdout)).toMatchObject({ id: first.conversationId, messages: [{ role: 'user' }, { role: 'assistant' }] });
    const deleted = await mai(['conversations', 'delete', first.conversationId]);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.stdout).toMatch(/Deleted/);
    expect((await mai(['conversations'])).stdout).toMatch(/no conversations yet/);
    const gone = await mai(['conversations', 'show', first.conversationId]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/No conversation/);
    expect((await mai(['conversations', 'show'])).code).toBe(2);
  });

  it('status, models and switch: the pin persists in the state directory across runs', async () => {
    const status = await mai(['status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ pinned: null, backends: [{ name: 'loop', reachable: true }] });
    const human = await mai(['status']);
    expect(human.stdout).toMatch(/loop: reachable/);
    expect(human.stdout).toMatch(/^queues +none$/m);
    expect(human.stdout).toMatch(/^clients +none$/m);
    const verbose = await mai(['status', '-v']);
    expect(verbose.stdout).toContain(config);
    expect(verbose.stdout).toMatch(/alpha/);

    const models = JSON.parse((await mai(['models', '--json'])).stdout) as { models: Array<{ id: string; fits: boolean }> };
    expect(models.models.map((m) => m.id)).toEqual(['alpha', 'beta', 'broken']);
    const available = JSON.parse((await mai(['models', '--available-only', '--json'])).stdout) as { models: Array<{ fits: boolean }> };
    expect(available.models.every((m) => m.fits)).toBe(true);
    expect((await mai(['models'])).stdout).toMatch(/alpha\s+loop/);

    const pin = await mai(['switch', 'beta']);
    expect(pin.code, pin.stderr).toBe(0);
    expect(pin.stdout).toMatch(/Pinned beta/);
    expect(JSON.parse(await readFile(join(dir.path, 'state', 'state.json'), 'utf8'))).toEqual({ pinned: 'beta' });
    expect(JSON.parse((await mai(['status', '--json'])).stdout)).toMatchObject({ pinned: 'beta' });
    expect((await mai(['chat', 'who?'])).stdout).toBe('Beta says hello.\n');

    const wrong = await mai(['switch', 'gamma']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/Known models: alpha, beta, broken/);
    expect((await mai(['switch', 'auto'])).stdout).toMatch(/Unpinned/);
    expect(JSON.parse((await mai(['status', '--json'])).stdout)).toMatchObject({ pinned: null });
  });

  it('--help on every command, and usage errors exit 2', async () => {
    const state = { stateDir: join(dir.path, 'state') };
    const top = await runCliInProcess(['--help'], state);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/--version/);
    for (const command of ['serve', 'chat', 'status', 'models', 'switch', 'batch', 'conversations']) {
      expect(top.stdout).toContain(command);
      const help = await runCliInProcess([command, '--help'], state);
      expect(help.code, command).toBe(0);
      expect(help.stdout, command).toMatch(new RegExp(`^Usage: mai ${command}`));
      expect(help.stdout, command).toContain('--config');
    }
    const flag = await runCliInProcess(['status', '--verbos'], state);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/--verbos.*mai status --help/s);
    const command = await runCliInProcess(['stauts'], state);
    expect(command.code).toBe(2);
    expect(command.stderr).toMatch(/unknown command "stauts"/);
    expect((await runCliInProcess(['switch'], state)).code).toBe(2);
  });

  describe('the real binary', () => {
    const spawned = (args: string[], options: { input?: string; env?: Record<string, string> } = {}) =>
      runCli([...args, '--config', config], { stateDir: join(dir.path, 'state'), ...options });

    // One shared host serves the spawned commands (the standalone binary's turn: the REPL case below).
    it('answers a turn piped on its stdin through the shared host it starts, which then serves the next commands; exits 1 on a failed request and 2 on bad usage', async () => {
      const state = join(dir.path, 'state');
      const host = { MAI_STANDALONE: '0' };
      const piped = await spawned(['chat', '-m', 'beta'], { input: 'A question from a pipe\n', env: host });
      expect(piped.code, piped.stderr).toBe(0);
      expect(piped.stdout).toBe('Beta says hello.\n');
      expect(piped.stderr).toMatch(/\(beta · continue with: mai chat -c \S+\)/);
      expect(server.requests).toHaveLength(1);
      expect(server.requests[0]).toMatchObject({ model: 'beta', messages: [{ role: 'user', content: 'A question from a pipe' }] });
      expect(hostPids(state)).toHaveLength(1);
      const [unknown, usage] = await Promise.all([spawned(['chat', '--json', '-m', 'gamma', 'hi'], { env: host }), runCli(['stauts'], { stateDir: state })]);
      expect(unknown.code).toBe(1);
      expect(JSON.parse(unknown.stdout)).toMatchObject({ error: { code: -32602, data: { code: 'unknown-model' } } });
      expect(usage.code).toBe(2);
      expect(usage.stderr).toMatch(/unknown command "stauts"/);
      expect(server.requests).toHaveLength(1); // neither reached the model server
      // The next command, the CLI's main in this process (from the sources it could not start a host on
      // Node: had it missed this one, it would say so on stderr and answer with a Mai of its own).
      const status = await runCliInProcess(['status', '--json', '--config', config], { stateDir: state, env: host });
      expect(status.code, status.stderr).toBe(0);
      expect(status.stderr).not.toMatch(/not using the shared host/);
      // The host answered it: the turns of the commands above are in its counters, and no second host started.
      expect(JSON.parse(status.stdout)).toMatchObject({ counters: { turns: 2 } });
      expect(hostPids(state)).toHaveLength(1);
    }, 60_000);

    it('the REPL (on a real terminal, through script(1)) handles /help and other / commands itself; only messages reach the model', async () => {
      const state = join(dir.path, 'state');
      // Under Deno, its executable runs a script as `deno run -A` (a bare `deno script` would ask for permissions on the terminal).
      const runtime = 'Deno' in globalThis ? `${process.execPath} run -A` : process.execPath;
      const command = `${runtime} ${binPath} chat --config ${config}`;
      const child = spawn('script', ['-qec', command, '/dev/null'], { env: maiEnv(state) });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
      child.stderr.on('data', (c: Buffer) => (out += c.toString('utf8')));
      const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
      child.stdin.end('/help\n/bogus\nhello there\n/id\n/exit\n');
      expect(await closed, out).toBe(0);
      expect(out).toMatch(/Commands \(handled here, never sent to the model\)/);
      expect(out).toMatch(/unknown command \/bogus/);
      expect(out).toMatch(/Alpha says hello\./);
      expect(server.requests).toHaveLength(1);
      expect(server.requests[0]?.messages.at(-1)).toEqual({ role: 'user', content: 'hello there' });
      const stored = JSON.parse((await mai(['conversations', '--json'])).stdout) as { conversations: Array<{ id: string }> };
      expect(out).toContain(stored.conversations[0]!.id); // what /id printed
    }, 90_000);

  });
});
