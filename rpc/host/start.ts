/**
 * Reaching the host, starting it when none runs: connect; if nobody listens, take the start lock
 * (two clients starting at once end with one host), connect again (the other may have started
 * it), else remove a stale socket, spawn `mai host` detached with its stderr in the log file,
 * and wait for its socket. A host that cannot start says why (the tail of its log).
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { fromSources, maiPackage } from '../../core/package-root.ts';
import { checkSocket, ensurePrivateDir, type HostAddress } from './address.ts';
import { connectHost, HostAbsent, type HostConnection } from './connect.ts';
import type { ClientHello, Face } from './wire.ts';

const START_TIMEOUT_MS = 60_000;
const LOG_ROTATE_BYTES = 4 * 1024 * 1024;

/** The host could not be started (HostStartFailed.configError: it exited 2, a broken config). */
export class HostStartFailed extends Error {
  override readonly name = 'HostStartFailed';
  constructor(
    message: string,
    readonly configError = false,
  ) {
    super(message);
  }
}

export interface ReachOptions {
  face: Face;
  name: string;
  clientInfo?: ClientHello['clientInfo'];
  /** The environment a host this client starts runs with (default: the process's). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Where the client's own notes go (default: the process's stderr). */
  warn?: (text: string) => void;
}

/** Hosts started in one reach before giving up (each one that went before we reached it is one). */
const START_ATTEMPTS = 3;

export async function reachHost(address: HostAddress, options: ReachOptions): Promise<HostConnection> {
  ensurePrivateDir(address.socketDir);
  const attempt = () => connectHost(address.socket, options.face, options.name, options.clientInfo);
  /** A connection, or null when no host answers (a connection that fails as a host goes counts as none). */
  const tryHost = async (): Promise<HostConnection | null> => {
    try {
      checkSocket(address.socket);
      return await attempt();
    } catch (error) {
      if (error instanceof HostAbsent) return null;
      throw error;
    }
  };
  const reached = await tryHost();
  if (reached) return reached;
  // A starter that died holding it (killed with its editor) is taken over at once. Imported here: a
  // client that finds the host running never needs it (nor proper-lockfile).
  const { lockFile } = await import('../../core/file-lock.ts');
  const release = await lockFile(address.lock, { stale: 15_000, retries: { retries: 600, minTimeout: 20, maxTimeout: 100 } });
  try {
    // Under the lock: another client may have started the host meanwhile; else start it. A host
    // may still go before we reach it (its idle time ran out, it was killed): start another.
    for (let started = 0; started < START_ATTEMPTS; started++) {
      const connection = await tryHost();
      if (connection) return connection;
      await startHost(address, options);
    }
    const connection = await tryHost();
    if (connection) return connection;
    throw new HostStartFailed(`${START_ATTEMPTS} hosts were started and each was gone before this client reached it (its log: ${address.log})`);
  } finally {
    await release().catch(() => {});
  }
}

/**
 * V8's young generation of the host, at most this many MiB per semi-space (--max-semi-space-size; 16
 * by default on 64-bit). A Mai's start-up (its modules, zod's schemas, a GGUF model's load) grows it to
 * the most V8 allows, and a process keeps what it grew: the host, resident for every client of the
 * machine, held 26–30 MiB of young generation after three GGUF turns (an in-process `mai serve` after
 * one: ~16 MiB; most of it garbage awaiting the next scavenge), its private memory 100–117 MiB; 90–97
 * with 8, 75–82 with 4. Smaller, it is scavenged more often: in bench/ab.js (turns with `$/progress`
 * through the host, both orders) 4 read ~0.1 ms a turn slower than no cap, 8 the same as no cap.
 */
const HOST_V8_FLAGS = ['--max-semi-space-size=8'];

/** The command that runs `mai host` on this runtime (Node on the `mai` bin, Deno on the sources). */
function hostCommand(address: HostAddress): { program: string; args: string[]; cwd: string } {
  const pkg = maiPackage();
  if (!pkg) throw new HostStartFailed(`Mai's package.json is missing above ${fileURLToPath(import.meta.url)}, so \`mai host\` cannot be started; reinstall Mai.`);
  const bin = join(pkg.root, fromSources ? join('rpc', 'bin.ts') : pkg.bin);
  const tail = [bin, 'host', '--config', address.configFile];
  if ('Deno' in globalThis) {
    // The README's full `deno run` line, with the network open: the host listens on its Unix socket
    // (Deno asks net access per exact `unix:` path) and serves whatever backends the config names.
    // A client allowed to run programs could grant itself as much.
    const flags = ['--allow-read', '--allow-env', '--allow-net', '--allow-sys', '--allow-run', '--allow-ffi', '--allow-write'];
    return { program: process.execPath, args: ['run', ...flags, `--v8-flags=${HOST_V8_FLAGS.join(',')}`, ...tail], cwd: pkg.root };
  }
  return { program: process.execPath, args: [...HOST_V8_FLAGS, ...tail], cwd: pkg.root };
}

async function startHost(address: HostAddress, options: ReachOptions): Promise<void> {
  if (checkSocket(address.socket)) {
    // Nobody answered on it: its host is dead. The new host would remove it too; say so here.
    (options.warn ?? ((text: string) => process.stderr.write(text)))(`mai: removing the stale host socket ${address.socket} (its host is gone)\n`);
    const { unlinkSync } = await import('node:fs');
    unlinkSync(address.socket);
  }
  mkdirSync(dirname(address.log), { recursive: true, mode: 0o700 });
  if (existsSync(address.log) && statSync(address.log).size > LOG_ROTATE_BYTES) renameSync(address.log, `${address.log}.1`);
  const from = existsSync(address.log) ? statSync(address.log).size : 0;
  const log = openSync(address.log, 'a', 0o600);
  const { program, args, cwd } = hostCommand(address);
  const child = spawn(program, args, { cwd, detached: true, stdio: ['ignore', log, log], env: options.env ?? process.env });
  closeSync(log);
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  child.once('error', (error) => {
    exited = -1;
    spawnError = error;
  });
  let spawnError: Error | undefined;
  child.unref();
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (let wait = 10; Date.now() < deadline; wait = Math.min(100, wait * 2)) {
    if (exited !== undefined) {
      if (spawnError) throw new HostStartFailed(`cannot run ${program}: ${spawnError.message}`);
      throw new HostStartFailed(`the host exited with code ${exited}: ${logTail(address.log, from) || '(nothing in its log)'}`, exited === 2);
    }
    try {
      if (checkSocket(address.socket)) return;
    } catch {
      // a socket being made: look again
    }
    await sleep(wait);
  }
  child.kill();
  throw new HostStartFailed(`the host did not listen within ${START_TIMEOUT_MS / 1000} s (its log: ${address.log})`);
}

/** What the host wrote to its log since `from` (its reason to exit). */
function logTail(file: string, from: number): string {
  try {
    const fd = openSync(file, 'r');
    const buffer = Buffer.alloc(Math.min(8192, Math.max(0, statSync(file).size - from)));
    readSync(fd, buffer, 0, buffer.length, from);
    closeSync(fd);
    return buffer.toString('utf8').trim();
  } catch {
    return '';
  }
}
