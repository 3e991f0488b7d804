/**
 * A real editor drives `mai serve`: a headless Neovim with editors/nvim on its runtimepath starts
 * the built Mai (this runtime on dist/bundle/mai.js, so Mai runs on Deno under the Deno run) through
 * Neovim's own JSON-RPC client (vim.lsp.rpc), against a real OpenAI-compatible server on loopback.
 * Each scenario is Lua run inside Neovim (test/support/nvim-driver.lua) that uses the plugin's
 * commands, records what the buffer, its status line and the messages showed, and quits with :qa!;
 * the test then checks the record, the model server's log, and that no mai serve is left running.
 * Neovim comes from Debian's packages (.ci/run installs it); without it the suite is skipped,
 * loudly — unless MAI_REQUIRE_NVIM=1 (set by .ci/run), where a missing nvim fails it.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startOpenAIServer, type FakeModel, type FakeOpenAIServer } from './support/openai-server.ts';
import { tempDir, writeConfig, type TempDir } from './support/harness.ts';
import { hostPids, killHosts } from './support/host-state.ts';
import { maiCommand, lua, nvimRunner, nvimVersion, running, type NvimRecord } from './support/nvim-session.ts';
import { binPath, loopbackConfig } from './support/rpc-client.ts';

const required = process.env.MAI_REQUIRE_NVIM === '1';
if (!nvimVersion && !required) {
  process.stderr.write(
    '\n*** test/editor-nvim.test.ts SKIPPED: `nvim` is not installed, so the Neovim plugin (editors/nvim) is not tested. ' +
      '.ci/run installs it (apt-get install neovim, as root); run it, or install Neovim >= 0.7, to test the editor integration. ***\n\n',
  );
}

const until = async (check: () => boolean, what: string, ms = 15_000) => {
  for (const start = Date.now(); !check(); await new Promise((r) => setTimeout(r, 25))) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
  }
};

describe.skipIf(!nvimVersion && !required)(`Neovim plugin (editors/nvim) driving mai serve — ${nvimVersion ?? 'nvim missing'}`, () => {
  let server: FakeOpenAIServer | undefined;
  let dir: TempDir;
  let runner: ReturnType<typeof nvimRunner>;

  beforeAll(() => {
    if (!nvimVersion) throw new Error("MAI_REQUIRE_NVIM=1 but `nvim` is not installed: .ci/run installs it from Debian's packages (apt-get install -y neovim, as root).");
  });
  beforeEach(async () => {
    dir = await tempDir('mai-nvim-');
    runner = nvimRunner(dir.path);
  });
  afterEach(async () => {
    runner.stopAll(); // whatever a failed scenario left running, by pid
    killHosts(join(dir.path, 'mai-state')); // a shared host a scenario started (by its log's pid), before its log is removed with the folder
    await server?.close();
    server = undefined;
    await dir.cleanup();
  });

  async function modelServer(models: FakeModel[]): Promise<{ server: FakeOpenAIServer; config: string }> {
    server = await startOpenAIServer(models);
    const config = await writeConfig(dir.path, loopbackConfig(server.baseURL).replace('./state', join(dir.path, 'mai-state')));
    return { server, config };
  }
  const nvim = (scenario: string, cmd: readonly string[], extraEnv: Record<string, string> = {}) => runner.run(scenario, cmd, extraEnv);

  const messages = (record: NvimRecord) => record.notes.map((n) => n.message).join('\n');

  it('streams an answer into the tab\'s buffer, names the model in its status line, continues the conversation, and :qa! ends mai serve', async () => {
    const reply = 'A steady answer,\nstreamed in parts.';
    const { server, config } = await modelServer([{ id: 'steady', reply, chunks: 6, chunkDelayMs: 120 }]);
    const record = await nvim(
      `
  vim.cmd('Mai Say something.')
  t.set('pid', require('mai').pid())
  local seen, statuslines = {}, {}
  t.wait(function()
    local view = t.view()
    local text = t.answer()
    if text ~= '' and text ~= seen[#seen] then table.insert(seen, text); table.insert(statuslines, view.statusline) end
    return view.state == 'done' or view.state == 'failed'
  end, 'the first answer')
  t.set('seen', seen)
  t.set('statuslines', statuslines)
  t.set('first', t.view())
  t.set('firstAnswer', t.answer())
  vim.cmd('Mai And again?')
  t.settle('the second answer')
  t.set('second', t.view())
  vim.cmd('tabnew')
  vim.cmd('Mai A new tab.')
  t.settle('the answer in the new tab')
  t.set('otherTab', t.view())
`,
      maiCommand(config),
      { MAI_LOG: 'debug' },
    );
    expect(record.code).toBe(0);
    // The answer arrived piece by piece: the buffer showed growing prefixes before the whole answer.
    const seen = record.seen as string[];
    expect(seen.length).toBeGreaterThan(2);
    for (const partial of seen) expect(reply.startsWith(partial)).toBe(true);
    expect(seen.at(-1)).toBe(reply);
    // The model was named in the status line while it streamed.
    expect((record.statuslines as string[])[0]).toMatch(/^Mai · steady · answering/);
    const first = record.first as { state: string; model: string; lines: string[]; statusline: string; conversation: string };
    expect(first).toMatchObject({ state: 'done', model: 'steady' });
    expect(first.lines).toEqual(['> Say something.', '', 'A steady answer,', 'streamed in parts.']);
    expect(first.statusline).toMatch(new RegExp(`^Mai · steady · done\\s+${first.conversation}$`));
    // The second prompt continued the same conversation: Mai sent the first exchange along.
    const second = record.second as { state: string; conversation: string; lines: string[] };
    expect(second.state).toBe('done');
    expect(second.conversation).toBe(first.conversation);
    expect(second.lines).toEqual([...first.lines, '', '> And again?', '', ...reply.split('\n')]);
    expect(server.requests[1]?.messages.map((m) => m.content)).toEqual(expect.arrayContaining(['Say something.', reply, 'And again?']));
    // Another tab is another conversation, started afresh.
    const other = record.otherTab as { conversation: string; lines: string[] };
    expect(other.conversation).not.toBe(first.conversation);
    expect(other.lines).toEqual(['> A new tab.', '', ...reply.split('\n')]);
    expect(server.requests[2]?.messages.map((m) => m.content)).not.toContain('Say something.');
    // Quitting Neovim shut mai serve down through shutdown and exit, and it is gone.
    expect(record.pid).toBeGreaterThan(0);
    expect(running(record.pid!)).toBe(false);
    const lspLog = await readFile(join(dir.path, 'cache', 'nvim', 'lsp.log'), 'utf8');
    expect(lspLog).toMatch(/serve finished: exit/);
  });

  it(':MaiCancel stops a streaming answer mid-way: the backend request is closed, the text stops growing, nothing of it is stored', async () => {
    const reply = 'word '.repeat(40).trim();
    let served = 0; // the first answer is slow (to be cancelled), the next one quick
    const slow: FakeModel = {
      id: 'slow',
      reply: () => (++served === 1 ? reply : 'Quick.'),
      chunks: 40,
      get chunkDelayMs() {
        return served <= 1 ? 150 : 0;
      },
    };
    const { server, config } = await modelServer([slow]);
    const record = await nvim(
      `
  vim.cmd('Mai Take your time.')
  t.set('pid', require('mai').pid())
  t.wait(function() return t.answer() ~= '' end, 'the first words')
  vim.cmd('MaiCancel')
  t.set('state', t.settle('the cancel'))
  t.set('atCancel', t.answer())
  vim.wait(1000)
  t.set('later', t.answer())
  t.set('view', t.view())
  vim.cmd('Mai Now quickly.')
  t.set('next', t.settle('the next answer'))
  t.set('nextAnswer', t.answer())
`,
      maiCommand(config),
    );
    expect(record.state).toBe('cancelled');
    const atCancel = record.atCancel as string;
    expect(atCancel.length).toBeGreaterThan(0);
    expect(atCancel.length).toBeLessThan(reply.length);
    expect(reply.startsWith(atCancel)).toBe(true);
    expect(record.later).toBe(atCancel); // nothing more arrived after the cancel
    expect((record.view as { statusline: string }).statusline).toMatch(/^Mai · slow · cancelled/);
    await until(() => server.requests[0]?.clientClosed === true, 'the backend request to be closed');
    // The tab takes the next prompt; the cancelled turn was not stored, so it is not in the history.
    expect(record.next).toBe('done');
    expect(record.nextAnswer).toBe('Quick.');
    expect(server.requests[1]?.messages.map((m) => m.content)).not.toContain('Take your time.');
    const store = join(dir.path, 'mai-state', 'conversations');
    const files = (await readdir(store)).filter((f) => f.endsWith('.jsonl'));
    expect(files).toHaveLength(1);
    const stored = await readFile(join(store, files[0]!), 'utf8');
    expect(stored).toMatch(/Now quickly\./);
    expect(stored).not.toMatch(/Take your time/);
    expect(running(record.pid!)).toBe(false);
  });

  it('a failover mid-stream: the buffer shows the fallback\'s text only, and its model', async () => {
    const { server, config } = await modelServer([
      { id: 'primary', reply: 'PRIMARY draft that breaks off here.', chunks: 6, chunkDelayMs: 150, behaviour: { kind: 'stream-error', afterChunks: 3, message: 'the GPU fell over' } },
      { id: 'backup', reply: 'The backup answer, whole.', chunks: 3, chunkDelayMs: 50 },
    ]);
    const record = await nvim(
      `
  vim.cmd('Mai Hello?')
  local seen = {}
  t.wait(function()
    local text = t.answer()
    if text ~= '' and text ~= seen[#seen] then table.insert(seen, { text = text, model = t.view().model }) end
    return t.view().state == 'done' or t.view().state == 'failed'
  end, 'the answer')
  t.set('seen', seen)
  t.set('view', t.view())
  t.set('answer', t.answer())
`,
      maiCommand(config),
    );
    const seen = record.seen as Array<{ text: string; model: string }>;
    // The primary's words were on screen (named as the primary's), then the restart cleared them.
    expect(seen.some((s) => s.text.startsWith('PRIMARY') && s.model === 'primary')).toBe(true);
    expect(record.answer).toBe('The backup answer, whole.');
    const view = record.view as { lines: string[]; statusline: string };
    expect(view.lines.join('\n')).not.toMatch(/PRIMARY/);
    expect(view.lines).toEqual(['> Hello?', '', 'The backup answer, whole.']);
    expect(view.statusline).toMatch(/^Mai · backup · done/);
    expect(server.requests.map((r) => r.model)).toEqual(['primary', 'backup']);
    expect(running(record.pid!)).toBe(false);
  });

  it(":MaiModels lists the models, :MaiSwitch completes and pins one, :MaiStatus shows it, :'<,'>Mai sends the selected lines", async () => {
    const { server, config } = await modelServer([{ id: 'alpha-7b' }, { id: 'beta-1b' }]);
    const record = await nvim(
      `
  vim.cmd('MaiModels')
  t.wait(function() return #t.notes >= 1 end, 'the models')
  t.set('completion', vim.fn.getcompletion('MaiSwitch ', 'cmdline'))
  t.set('completionB', vim.fn.getcompletion('MaiSwitch b', 'cmdline'))
  vim.cmd('MaiSwitch beta-1b')
  t.wait(function() return #t.notes >= 2 end, 'the switch')
  vim.cmd('MaiSwitch gpt-5')
  t.wait(function() return #t.notes >= 3 end, 'the refused switch')
  vim.cmd('MaiStatus')
  t.wait(function() return #t.notes >= 4 end, 'the status')
  vim.cmd('Mai Who answers?')
  t.settle()
  t.set('view', t.view())
  -- The visual-selection variant, in another tab: lines 2-3 of a Lua buffer, selected, then :'<,'>Mai.
  vim.cmd('tabnew')
  vim.api.nvim_buf_set_lines(0, 0, -1, false, { 'local a = 1', 'local b = 2', 'return a + b', '-- end' })
  vim.bo.filetype = 'lua'
  vim.cmd('execute "normal! 2GVj\\\\<Esc>"') -- select lines 2-3 as a user would; leaving Visual mode sets '< and '>
  vim.cmd("'<,'>Mai Explain this.")
  t.settle('the answer about the selection')
  t.set('selection', t.view())
`,
      maiCommand(config),
    );
    const [models, pinned, refused, status] = record.notes.map((n) => n.message);
    expect(models).toMatch(/^Mai: models/);
    expect(models).toMatch(/alpha-7b\s+\[loop/);
    expect(models).toMatch(/beta-1b\s+\[loop/);
    expect(record.completion).toEqual(['auto', 'alpha-7b', 'beta-1b']);
    expect(record.completionB).toEqual(['beta-1b']);
    expect(pinned).toMatch(/pinned beta-1b/);
    // Mai's own error, naming the models it knows.
    expect(refused).toMatch(/Unknown model "gpt-5".*alpha-7b, beta-1b.*\[unknown-model\]/);
    expect(record.notes[2]?.level).toBe(4); // vim.log.levels.ERROR
    expect(status).toMatch(/pinned beta-1b/);
    expect(status).toMatch(/backend loop: reachable/);
    expect((record.view as { statusline: string }).statusline).toMatch(/^Mai · beta-1b · done/);
    // :'<,'>Mai sends the prompt, then the selected lines in a block named by the file type.
    expect(server.requests.at(-1)?.messages.at(-1)?.content).toBe('Explain this.\n\n```lua\nlocal b = 2\nreturn a + b\n```');
    expect((record.selection as { lines: string[] }).lines).toEqual(['> Explain this.', '> [lines 2-3 of the buffer]', '', 'Answer from beta-1b.']);
    expect(running(record.pid!)).toBe(false);
  });

  it('says clearly when mai is missing, when the command is not a working mai serve, and when its config fails (Mai\'s own message)', async () => {
    const missing = await nvim(
      `
  vim.cmd('Mai Hello?')
  t.wait(function() return #t.notes >= 1 end, 'the message')
  t.set('state', t.view().state)
`,
      [join(dir.path, 'no-such-mai'), 'serve'],
    );
    expect(missing.code).toBe(0);
    expect(missing.notes).toHaveLength(1);
    expect(messages(missing)).toMatch(/^Mai: `.*no-such-mai` was not found or is not executable, so Mai cannot start\. Install Mai .*setup\(\{ cmd = /);
    expect(missing.notes[0]?.level).toBe(4);
    expect(missing.state).toBe('not started');

    // A command that is not a working mai serve (here: a script that does not exist) ends at once.
    const wrong = await nvim(
      `
  vim.cmd('Mai Hello?')
  t.settle('the failure')
  t.set('state', t.view().state)
`,
      maiCommand(join(dir.path, 'mai.config.yaml')).map((arg) => (arg === binPath ? join(dir.path, 'no-such-bin.js') : arg)),
    );
    expect(wrong.state).toBe('failed');
    expect(wrong.notes).toHaveLength(1);
    expect(messages(wrong)).toMatch(/^Mai: `.*no-such-bin\.js serve --config .*` ended \(exit code 1\) before it answered: check the command, require\('mai'\)\.setup\(\{ cmd = \{ … \} \}\)\. Its messages on stderr are in Neovim's LSP log: .*lsp\.log/);

    const broken = join(dir.path, 'broken.yaml');
    await writeFile(broken, 'scorers:\n  - use: vibes\n');
    const record = await nvim(
      `
  vim.cmd('Mai Hello?')
  t.set('pid', require('mai').pid())
  t.settle('the failure')
  t.set('state', t.view().state)
  vim.cmd('MaiStatus')
  t.wait(function() return #t.notes >= 2 end, 'the status')
  t.set('running', require('mai.client').running())
`,
      maiCommand(broken),
    );
    expect(record.state).toBe('failed');
    const [answer, status] = record.notes.map((n) => n.message);
    expect(answer).toMatch(/^Mai: .*unknown scorer plugin "vibes" \(broken\.yaml:2\).*\[plugin-unknown\]$/s);
    // mai serve keeps answering with the same message (it does not exit on its own) until Neovim quits.
    expect(status).toBe(answer);
    expect(record.running).toBe(true);
    expect(record.notes).toHaveLength(2);
    expect(running(record.pid!)).toBe(false);
  });

  // Once mai serve, orphaned with its stderr closed, spun at 100 % CPU (its uncaughtException handler
  // logged to the closed stderr, which threw again); rpc/client-gone.ts now sees the client leave.
  it.each([
    ['in its own process', {}],
    ['forwarding to the shared host', { MAI_STANDALONE: '0' }],
  ])('Neovim killed outright (its pipes all close at once) mid-answer: mai serve (%s) ends by itself', async (_mode, env: Record<string, string>) => {
    const { server, config } = await modelServer([{ id: 'slow', reply: 'word '.repeat(40), chunks: 40, chunkDelayMs: 150 }]);
    const told = join(dir.path, 'told.json');
    const run = nvim(
      `
  vim.cmd('Mai Take your time.')
  t.wait(function() return t.answer() ~= '' end, 'the first words')
  t.tell(${lua(told)}, { pid = require('mai').pid() })
  vim.wait(60000)
`,
      maiCommand(config),
      env,
    ).catch((error: unknown) => error);
    await until(() => existsSync(told), 'Neovim to say the answer is streaming', 60_000);
    const { pid } = JSON.parse(await readFile(told, 'utf8')) as { pid: number };
    runner.latest()!.pid = pid;
    expect(running(pid)).toBe(true);
    runner.latest()!.nvim.kill('SIGKILL');
    await run; // no record: Neovim was killed
    await until(() => !running(pid), 'mai serve to exit after its editor vanished');
    await until(() => server.requests[0]?.clientClosed === true, 'the backend request to be closed');
    // Forwarding, the turn was the shared host's: it cancelled it and serves on.
    expect(hostPids(join(dir.path, 'mai-state')).filter(running)).toHaveLength(env.MAI_STANDALONE === '0' ? 1 : 0);
  });
});
