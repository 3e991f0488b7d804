/**
 * Drives the real `mai` bin (node dist/bundle/mai.js, package.json's bin) over real pipes. `spawnServe` writes frames in either
 * framing and reads stdout with its own parser (independent of rpc/framing.ts), so anything on
 * stdout that is not a well-framed JSON message is caught as `garbage`. `connectServe` puts a
 * vscode-jsonrpc client on the process instead (Content-Length framing, cancellation, progress).
 * `runCli` runs any other command to completion.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter, type MessageConnection } from 'vscode-jsonrpc/node';
import { wireSession, type WireFraming, type WireSession } from './wire-session.ts';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** The `mai` bin as npm installs it (package.json's bin: the bundle scripts/build.js writes). */
export const binPath = join(repoRoot, (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { bin: { mai: string } }).bin.mai);

export { frame, type Reply, type WireFraming } from './wire-session.ts';

export function maiEnv(stateDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  // Suites about in-process behaviour run standalone, each in its own runtime folder; the host's
  // suites (test/host-*.test.ts) pass MAI_STANDALONE: '0'.
  const env: NodeJS.ProcessEnv = { ...process.env, MAI_STATE_DIR: stateDir, XDG_STATE_HOME: stateDir, XDG_RUNTIME_DIR: join(stateDir, 'run'), MAI_STANDALONE: '1', MAI_LOG: 'warn', ...extra };
  delete env.MAI_CONFIG;
  return env;
}

/** A `mai serve` the test talks to: its wire session, its stderr, and how it ended. */
export interface ServeEnd extends WireSession {
  stderr(): string;
  /** Ends the server's input (the client closes its side). */
  end(): void;
  /** The exit code (for a linked server: the code `mai serve` would exit with). */
  exited: Promise<number | null>;
}

export interface ServeProcess extends ServeEnd {
  child: ChildProcessWithoutNullStreams;
}

/** `command`: the program and leading arguments that run mai (default: this runtime on the `mai` bin); `args`: more for `serve` (`--mcp`). */
export function spawnServe(options: { config: string; framing: WireFraming; stateDir: string; env?: Record<string, string>; command?: readonly string[]; args?: readonly string[] }): ServeProcess {
  const [program, ...leading] = options.command ?? [process.execPath, binPath];
  const child = spawn(program!, [...leading, 'serve', ...(options.args ?? []), '--config', options.config], { env: maiEnv(options.stateDir, options.env), cwd: repoRoot });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const session = wireSession(options.framing, child.stdout, child.stdin, () => `stderr: ${stderr}`);
  const exited = new Promise<number | null>((done) => child.on('close', (code) => void session.closed.then(() => done(code))));
  return { ...session, child, stderr: () => stderr, end: () => child.stdin.end(), exited };
}

/** A vscode-jsonrpc client connection on a spawned `mai serve`. */
export function connectServe(options: { config: string; stateDir: string }): { connection: MessageConnection; child: ChildProcessWithoutNullStreams; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [binPath, 'serve', '--config', options.config], { env: maiEnv(options.stateDir), cwd: repoRoot });
  child.stderr.resume();
  const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
  const connection = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  connection.listen();
  return { connection, child, exited };
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `mai ARGS…` to completion with `input` on stdin (stdin is a pipe, so never a TTY). */
export function runCli(args: string[], options: { stateDir: string; input?: string; env?: Record<string, string>; cwd?: string; command?: readonly string[] }): Promise<CliRun> {
  return new Promise((done, reject) => {
    const [program, ...leading] = options.command ?? [process.execPath, binPath];
    const child = spawn(program!, [...leading, ...args], { env: maiEnv(options.stateDir, options.env), cwd: options.cwd ?? repoRoot });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => done({ code, stdout, stderr }));
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

/** A config for one OpenAI-compatible loopback server, state in ./state next to the file. */
export function loopbackConfig(baseURL: string, extra = ''): string {
  return `backends:
  - use: openai
    name: loop
    options: { baseURL: "${baseURL}" }
scorers:
  - use: context-fit
fallback: { retries: 0, backoffMs: 0 }
monitor: { enabled: false }
context: { stateDir: ./state, summary: digest }
${extra}`;
}
