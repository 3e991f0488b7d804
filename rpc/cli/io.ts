/**
 * What a CLI command reads and writes, handed to it as one object: the process's streams,
 * environment and folder by default (`processIo()`), or a test's own, so that every command runs
 * in the test's process against real servers and files. No command reads `process.*` itself.
 * Free of vscode-jsonrpc, zod and Mai's core (core/log.ts included), like args.ts: `mai serve`'s
 * forwarder loads it (test/host-forwarder-lean.test.ts).
 */
import type { Readable, Writable } from 'node:stream';

type Tty = { isTTY?: boolean };

export interface CliIo {
  stdin: Readable & Tty;
  stdout: Writable & Tty & { columns?: number };
  stderr: Writable & Tty;
  env: Readonly<Record<string, string | undefined>>;
  /** The folder relative paths (--config, a batch file) are read from. */
  cwd: string;
  /** Where log lines go; absent: the process's stderr through core/log.ts's writeStderr, which never fails on a closed stderr. */
  log?: (text: string) => void;
  /** Calls `handler` on Ctrl-C until the returned function is called. */
  onInterrupt(handler: () => void): () => void;
  /**
   * True when the command is the program itself (bin.ts): only then does `mai serve` install
   * process-wide last-resort error handlers and watch file descriptors 1 and 2 for a client that
   * closed them. A test's process keeps its own handlers.
   */
  ownsProcess: boolean;
}

export function processIo(): CliIo {
  return {
    // Made when first used: `mai serve`'s forwarder reads fd 0 with a handle of its own (rpc/host/client-bytes.ts).
    get stdin() {
      return process.stdin;
    },
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    onInterrupt(handler) {
      process.once('SIGINT', handler);
      return () => process.off('SIGINT', handler);
    },
    ownsProcess: true,
  };
}
