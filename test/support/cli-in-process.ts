/**
 * Runs `mai ARGS…` in the test's own process: rpc/cli/main.ts's `main` with a CliIo of the test's
 * (stdin a pipe holding `input` then ended, stdout and stderr captured, the environment of
 * `maiEnv`, the folder given) — the same commands, flags, configs, files and loopback servers as
 * the spawned binary, without a runtime started per command. The spawned binary keeps its own
 * smoke tests (exit codes, real pipes, the shared host) in the cli-* suites.
 */
import { PassThrough, Writable } from 'node:stream';
import { main } from '../../rpc/cli/main.ts';
import type { CliIo } from '../../rpc/cli/io.ts';
import { maiEnv, repoRoot, type CliRun } from './rpc-client.ts';

function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

export interface InProcessRunOptions {
  stateDir: string;
  input?: string;
  env?: Record<string, string>;
  cwd?: string;
}

/** `mai ARGS…` to completion in this process; `code` is what the binary would exit with. */
export async function runCliInProcess(args: string[], options: InProcessRunOptions): Promise<CliRun> {
  const stdin = new PassThrough();
  stdin.end(options.input ?? '');
  const stdout = capture();
  const stderr = capture();
  const io: CliIo = {
    stdin,
    stdout: stdout.stream,
    stderr: stderr.stream,
    env: maiEnv(options.stateDir, options.env),
    cwd: options.cwd ?? repoRoot,
    log: (text) => void stderr.stream.write(text),
    onInterrupt: () => () => {},
    ownsProcess: false,
  };
  const code = await main(args, io);
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}
