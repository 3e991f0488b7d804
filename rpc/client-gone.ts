/**
 * Notices that the client of a stdio server is gone although nothing was written: an editor that
 * quits closes its ends of the socketpairs it gave the server (Neovim's jobs do), and the server
 * would otherwise learn that only at its next write — after a turn that may last minutes, or never
 * when idle. A socket's end becomes readable at end-of-file once its peer closes, so stdout and
 * stderr are probed with one-byte reads when they are sockets (a pipe cannot be probed: its
 * closing shows at the next write, which the server and the logger handle; Deno's child_process
 * hands its children pipes, Node's and Neovim's socketpairs). A failed write to
 * stderr (core/log.ts) counts too. (Deno leaves the fd blocking: there the read simply returns at
 * end-of-file, on a thread of its own, and does not hold up the exit.) The logger's hooks are handed in
 * (core/log.ts's onStderrGone and stderrGone) rather than imported, so that the forwarder, which has
 * no logger and loads none of Mai's core, watches its editor the same way.
 */
import { fstatSync, read, readSync } from 'node:fs';

/** How often a non-blocking socket with nothing to read is probed again. */
const PROBE_MS = 250;

export interface ClientWatch {
  stop(): void;
}

/** A logger's side of stderr: it tells when its own write failed, and is told when a probe saw the end. */
export interface StderrHooks {
  onStderrGone(listener: () => void): void;
  stderrGone(): void;
}

/** Calls `gone` once, with what was seen, when stdout's or stderr's reader is gone. */
export function watchClient(gone: (reason: string) => void, stderr?: StderrHooks): ClientWatch {
  let stopped = false;
  const fire = (reason: string) => {
    if (stopped) return;
    stopped = true;
    gone(reason);
  };
  stderr?.onStderrGone(() => fire('stderr was closed'));
  for (const [fd, name] of [
    [1, 'stdout'],
    [2, 'stderr'],
  ] as const) {
    if (!isSocket(fd)) continue;
    // Node makes stdio pipes and sockets blocking; a blocking probe would hold a thread-pool thread
    // until the peer closes, and Node joins those threads at exit. Non-blocking, a probe returns at once.
    const handle = (fd === 1 ? process.stdout : process.stderr) as unknown as { _handle?: { setBlocking?(blocking: boolean): number } };
    // Known non-blocking (Node said so), the probe reads on the loop's thread: it returns at once,
    // and a probe is one wake-up of the process every PROBE_MS instead of three (the timer, a
    // thread-pool thread, the loop again for its result). Else (Deno) it reads on the thread pool.
    const nonBlocking = handle._handle?.setBlocking?.(false) === 0 && !('Deno' in globalThis);
    const byte = Buffer.alloc(1);
    const readByte = (done: (error: Error | null, bytes: number) => void) => {
      if (!nonBlocking) return read(fd, byte, 0, 1, null, done);
      let bytes: number;
      try {
        bytes = readSync(fd, byte, 0, 1, null);
      } catch (error) {
        return done(error as Error, 0);
      }
      done(null, bytes);
    };
    const probe = () => {
      if (stopped) return;
      readByte((error, bytes) => {
        if (stopped) return;
        const code = (error as NodeJS.ErrnoException | null)?.code;
        if (!error && bytes === 0) {
          if (fd === 2) stderr?.stderrGone();
          fire(`the client closed ${name}`);
        } else if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ENOTCONN') {
          fire(`the client closed ${name} (${code})`);
        } else if (!error || code === 'EAGAIN' || code === 'EWOULDBLOCK') {
          setTimeout(probe, PROBE_MS).unref(); // nothing to read: the reader is still there
        }
        // any other error (EBADF: a write-only end): this end cannot be probed
      });
    };
    probe();
  }
  return {
    stop: () => {
      stopped = true;
    },
  };
}

function isSocket(fd: number): boolean {
  try {
    return fstatSync(fd).isSocket();
  } catch {
    return false;
  }
}
