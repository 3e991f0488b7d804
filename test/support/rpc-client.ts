/**
 * Drives the real `node dist/rpc/bin.js` over real pipes. `spawnServe` writes frames in either
 * framing and reads stdout with its own parser (independent of rpc/framing.ts), so anything on
 * stdout that is not a well-framed JSON message is caught as `garbage`. `connectServe` puts a
 * vscode-jsonrpc client on the process instead (Content-Length framing, cancellation, progress).
 * `runCli` runs any other command to completion.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter, type MessageConnection } from 'vscode-jsonrpc/node';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const binPath = join(repoRoot, 'dist', 'rpc', 'bin.js');

export type WireFraming = 'ndjson' | 'content-length';

export interface Reply {
  jsonrpc: string;
  id?: string | number | null;
  result?: unknown;
  error?: { code: number; message: string; data?: Record<string, unknown> };
  method?: string;
  params?: unknown;
}

export function maiEnv(stateDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, MAI_STATE_DIR: stateDir, XDG_STATE_HOME: stateDir, MAI_LOG: 'warn', ...extra };
  delete env.MAI_CONFIG;
  return env;
}

export function frame(framing: WireFraming, text: string): string {
  return framing === 'ndjson' ? `${text}\n` : `Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`;
}

export interface ServeProcess {
  child: ChildProcessWithoutNullStreams;
  /** Every message read from stdout so far (a batch reply is one array). */
  messages: Array<Reply | Reply[]>;
  /** stdout bytes that were not a well-framed JSON message. */
  garbage: string[];
  stderr(): string;
  /** Sends a value as JSON (or a string as is) in the process's framing. */
  send(message: unknown): void;
  writeRaw(text: string): void;
  /** Sends a request with a fresh id and waits for its reply. */
  request(method: string, params?: unknown): Promise<Reply>;
  /** Waits for the first message (from now on, or already read) that matches. */
  waitFor(match: (message: Reply | Reply[]) => boolean, timeoutMs?: number): Promise<Reply | Reply[]>;
  end(): void;
  exited: Promise<number | null>;
}

/** `command`: the program and leading arguments that run mai (default: this runtime on dist/rpc/bin.js). */
export function spawnServe(options: { config: string; framing: WireFraming; stateDir: string; env?: Record<string, string>; command?: readonly string[] }): ServeProcess {
  const [program, ...leading] = options.command ?? [process.execPath, binPath];
  const child = spawn(program!, [...leading, 'serve', '--config', options.config], { env: maiEnv(options.stateDir, options.env), cwd: repoRoot });
  const messages: Array<Reply | Reply[]> = [];
  const garbage: string[] = [];
  const waiters: Array<{ match: (m: Reply | Reply[]) => boolean; resolve: (m: Reply | Reply[]) => void }> = [];
  let stderr = '';
  let buffer = Buffer.alloc(0);
  let nextId = 1000;
  const deliver = (text: string) => {
    let message: Reply | Reply[];
    try {
      message = JSON.parse(text) as Reply | Reply[];
    } catch {
      garbage.push(text);
      return;
    }
    messages.push(message);
    for (const waiter of [...waiters]) {
      if (waiter.match(message)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(message);
      }
    }
  };
  const parse = () => {
    for (;;) {
      if (options.framing === 'ndjson') {
        const newline = buffer.indexOf(0x0a);
        if (newline === -1) return;
        deliver(buffer.subarray(0, newline).toString('utf8'));
        buffer = buffer.subarray(newline + 1);
        continue;
      }
      const end = buffer.indexOf('\r\n\r\n');
      if (end === -1) return;
      const header = buffer.subarray(0, end).toString('ascii');
      const match = /^Content-Length: (\d+)$/.exec(header);
      if (!match) {
        garbage.push(header);
        buffer = buffer.subarray(end + 4);
        continue;
      }
      const length = Number(match[1]);
      if (buffer.length < end + 4 + length) return;
      deliver(buffer.subarray(end + 4, end + 4 + length).toString('utf8'));
      buffer = buffer.subarray(end + 4 + length);
    }
  };
  child.stdout.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    parse();
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  child.stdin.on('error', () => {}); // the process may exit first
  const exited = new Promise<number | null>((done) => child.on('close', (code) => {
    if (buffer.length > 0) garbage.push(buffer.toString('utf8'));
    done(code);
  }));
  const writeRaw = (text: string) => void child.stdin.write(text);
  const send = (message: unknown) => writeRaw(frame(options.framing, typeof message === 'string' ? message : JSON.stringify(message)));
  const waitFor = (match: (m: Reply | Reply[]) => boolean, timeoutMs = 15_000) =>
    new Promise<Reply | Reply[]>((resolvePromise, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching message within ${timeoutMs} ms; got ${JSON.stringify(messages)}; stderr: ${stderr}`)), timeoutMs);
      waiters.push({ match, resolve: (m) => (clearTimeout(timer), resolvePromise(m)) });
    });
  return {
    child,
    messages,
    garbage,
    stderr: () => stderr,
    send,
    writeRaw,
    async request(method, params) {
      const id = nextId++;
      const reply = waitFor((m) => !Array.isArray(m) && m.id === id && m.method === undefined);
      send({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) });
      return (await reply) as Reply;
    },
    waitFor,
    end: () => child.stdin.end(),
    exited,
  };
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
