/**
 * Headless Neovim for test/editor-nvim.test.ts: whether `nvim` is installed, and a runner that
 * writes a scenario (Lua, run by test/support/nvim-driver.lua, with `t` the driver) to a file, runs
 * `nvim --headless --clean` with editors/nvim on its runtimepath and every folder in a temp dir, and
 * returns what the scenario recorded. Whatever a scenario leaves running is ended by `stopAll`, by pid.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { binPath, maiEnv, repoRoot } from './rpc-client.ts';

/** `nvim --version`'s first line, or null when Neovim is not installed. */
export const nvimVersion: string | null = (() => {
  const probe = spawnSync('nvim', ['--version'], { encoding: 'utf8' });
  return probe.status === 0 ? (probe.stdout.split('\n')[0] ?? 'nvim') : null;
})();

const pluginDir = join(repoRoot, 'editors', 'nvim');
const driver = join(repoRoot, 'test', 'support', 'nvim-driver.lua');

/** Mai as the plugin starts it: under Deno, Deno's own binary needs `run -A` before a script. */
export const maiCommand = (config: string): string[] =>
  ['Deno' in globalThis ? [process.execPath, 'run', '-A'] : [process.execPath], binPath, 'serve', '--config', config].flat();
/** ASCII paths and text: a JSON string is a Lua string. */
export const lua = (value: string): string => JSON.stringify(value);
const luaList = (values: readonly string[]) => `{ ${values.map(lua).join(', ')} }`;

export interface NvimRecord {
  error?: string;
  /** Every vim.notify the plugin made. */
  notes: Array<{ message: string; level: number }>;
  /** mai serve's pid, as the plugin's client saw it. */
  pid?: number;
  [key: string]: unknown;
}

/** Whether a process runs (a zombie, ended but not yet reaped, does not). */
export function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export interface NvimRun {
  nvim: ChildProcess;
  /** mai serve's pid once known (from the record, or set by the test). */
  pid?: number;
}

export function nvimRunner(dir: string) {
  const started: NvimRun[] = [];
  let runs = 0;
  return {
    /** The latest run (its Neovim and, once known, mai serve's pid). */
    latest: (): NvimRun | undefined => started.at(-1),
    /** Runs `scenario` with the plugin set up to start `cmd`; resolves once Neovim exited. */
    async run(scenario: string, cmd: readonly string[], extraEnv: Record<string, string> = {}): Promise<NvimRecord & { code: number | null; output: string }> {
      const n = ++runs;
      const script = join(dir, `scenario-${n}.lua`);
      const out = join(dir, `record-${n}.json`);
      await writeFile(script, `local t = dofile(${lua(driver)})\nt.run(${lua(out)}, function()\n  require('mai').setup({ cmd = ${luaList(cmd)} })\n${scenario}\nend)\n`);
      const folders = { HOME: 'home', XDG_CONFIG_HOME: 'config', XDG_DATA_HOME: 'data', XDG_STATE_HOME: 'state', XDG_CACHE_HOME: 'cache', XDG_RUNTIME_DIR: 'run' };
      const paths: Record<string, string> = {};
      for (const [name, sub] of Object.entries(folders)) {
        paths[name] = join(dir, sub);
        await mkdir(paths[name], { recursive: true, mode: 0o700 });
      }
      // The suites' environment for a mai they start (maiEnv), and every folder Neovim or mai uses in the temp dir.
      const env = maiEnv(join(dir, 'mai-state'), { ...paths, ...extraEnv });
      const child = spawn('nvim', ['--headless', '--clean', '--cmd', `set rtp^=${pluginDir}`, '-c', `luafile ${script}`], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
      const entry: NvimRun = { nvim: child };
      started.push(entry);
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
      child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
      const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
      const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
      clearTimeout(timer);
      if (!existsSync(out)) throw new Error(`Neovim wrote no record (exit ${code}):\n${output}`);
      const record = JSON.parse(await readFile(out, 'utf8')) as NvimRecord;
      if (!Array.isArray(record.notes)) record.notes = []; // an empty Lua table encodes as {}
      if (record.pid !== undefined) entry.pid = record.pid;
      if (record.error) throw new Error(`the scenario failed inside Neovim:\n${record.error}\nnotes: ${JSON.stringify(record.notes)}\n${output}`);
      return { ...record, code, output };
    },
    /** Ends, by pid, every Neovim and mai serve a run left running. */
    stopAll(): void {
      for (const { nvim, pid } of started.splice(0)) {
        if (nvim.exitCode === null && nvim.signalCode === null) nvim.kill('SIGKILL');
        if (pid && running(pid)) process.kill(pid, 'SIGKILL');
      }
    },
  };
}
