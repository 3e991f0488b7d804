/**
 * Starts LM Studio's server with its CLI (`lms server start --port N`) when the config allows it
 * and `lms` is on PATH, then waits — bounded — until the server answers. Never a shell: the
 * command and its arguments are passed as they are.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Logger } from '../../core/log.ts';

/** The first executable called `name` on PATH (with PATHEXT's extensions on Windows). */
export function findOnPath(name: string, env: Readonly<Record<string, string | undefined>>, platform: string = process.platform): string | undefined {
  const dirs = (env.PATH ?? env.Path ?? '').split(delimiter).filter(Boolean);
  const extensions = platform === 'win32' ? ['', ...(env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';').map((e) => e.toLowerCase())] : [''];
  for (const dir of dirs) {
    for (const ext of extensions) {
      const candidate = join(dir, name + ext);
      try {
        if (!statSync(candidate).isFile()) continue;
        accessSync(candidate, constants.X_OK);
        return candidate;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

export interface StartServerInput {
  baseURL: string;
  env: Readonly<Record<string, string | undefined>>;
  /** How long to wait for `lms` to return and the server to answer, in all. */
  timeoutMs: number;
  /** True once the server answers (any HTTP answer). */
  probe: (signal: AbortSignal) => Promise<boolean>;
  log?: Logger;
}

export interface StartOutcome {
  started: boolean;
  /** What happened, for the error a caller reports when it did not start. */
  detail: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the command, resolving with its exit code and the tail of its output; kills it after `timeoutMs`. */
function runCommand(command: string, args: string[], env: StartServerInput['env'], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(command, args, { env: { ...env } as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'], shell: false });
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-2_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const timer = setTimeout(() => child.kill(), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      resolve({ code: null, output: error.message });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output: output.trim() });
    });
  });
}

export async function startLmStudioServer(input: StartServerInput): Promise<StartOutcome> {
  const lms = findOnPath('lms', input.env);
  if (!lms) return { started: false, detail: '`lms` is not on PATH (LM Studio installs it in ~/.lmstudio/bin; run `lms bootstrap` or add that folder to PATH)' };
  const url = new URL(input.baseURL);
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  const deadline = Date.now() + input.timeoutMs;
  input.log?.info(`starting LM Studio's server: ${lms} server start --port ${port}`);
  const { code, output } = await runCommand(lms, ['server', 'start', '--port', port], input.env, input.timeoutMs);
  if (code !== 0) input.log?.warn(`\`lms server start\` exited with ${code ?? 'an error'}${output ? `: ${output.slice(-300)}` : ''}`);
  while (Date.now() < deadline) {
    const left = deadline - Date.now();
    if (await input.probe(AbortSignal.timeout(Math.max(1, Math.min(1_000, left))))) {
      input.log?.info(`LM Studio's server answers at ${url.origin}`);
      return { started: true, detail: `started with \`lms server start --port ${port}\`` };
    }
    await sleep(Math.min(200, Math.max(0, deadline - Date.now())));
  }
  return {
    started: false,
    detail: `ran \`lms server start --port ${port}\` (exit ${code ?? 'error'}${output ? `: ${output.slice(-200)}` : ''}) but the server did not answer within ${input.timeoutMs} ms`,
  };
}
