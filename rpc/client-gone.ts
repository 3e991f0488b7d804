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

/**
 * How often the sockets are probed (on Node, where a probe is a non-blocking read on the loop's
 * thread, one timer for both): every FAST_MS while the client is active — it sent something, or
 * ended its input, within ACTIVE_MS — else every SLOW_MS. An idle process woke 8 times a second
 * for its two probes: ~2 ms of CPU a second, for every editor window left open, on this 2-core
 * machine (schedstat of an idle forwarder: 1.8–2.4 ms/s, a bare relay 0). An editor that quits
 * closes stdin with the rest, so the end of the input sets the fast pace before a probe is due.
 */
const FAST_MS = 250;
const SLOW_MS = 2_000;
const ACTIVE_MS = 5_000;

export interface ClientWatch {
  stop(): void;
  /** The client sent something or ended its input: the sockets are probed at the fast pace for a while. */
  active(): void;
}

/** A logger's side of stderr: it tells when its own write failed, and is told when a probe saw the end. */
export interface StderrHooks {
  onStderrGone(listener: () => void): void;
  stderrGone(): void;
}

/** What one read of a probed socket said: the reader is gone (why), still there (null), or the end cannot be probed (undefined). */
type ProbeResult = string | null | undefined;

function probeResult(name: string, error: NodeJS.ErrnoException | null, bytes: number): ProbeResult {
  const code = error?.code;
  if (!error && bytes === 0) return `the client closed ${name}`;
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ENOTCONN') return `the client closed ${name} (${code})`;
  if (!error || code === 'EAGAIN' || code === 'EWOULDBLOCK') return null; // nothing to read: the reader is still there
  return undefined; // any other error (EBADF: a write-only end): this end cannot be probed
}

/** Calls `gone` once, with what was seen, when stdout's or stderr's reader is gone. */
export function watchClient(gone: (reason: string) => void, stderr?: StderrHooks): ClientWatch {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const fire = (reason: string, fd?: number) => {
    if (stopped) return;
    stopped = true;
    clearTimeout(timer);
    if (fd === 2) stderr?.stderrGone();
    gone(reason);
  };
  stderr?.onStderrGone(() => fire('stderr was closed'));
  let activeUntil = Date.now() + ACTIVE_MS;
  const pace = () => (Date.now() < activeUntil ? FAST_MS : SLOW_MS);
  /** The sockets probed on the loop's thread, by the timer (Node). */
  let polled: Array<{ fd: number; name: string }> = [];
  const byte = Buffer.alloc(1);
  for (const [fd, name] of [
    [1, 'stdout'],
    [2, 'stderr'],
  ] as const) {
    if (!isSocket(fd)) continue;
    // Node makes stdio pipes and sockets blocking; a blocking probe would hold a thread-pool thread
    // until the peer closes, and Node joins those threads at exit. Non-blocking, a probe returns at once.
    const handle = (fd === 1 ? process.stdout : process.stderr) as unknown as { _handle?: { setBlocking?(blocking: boolean): number } };
    // Known non-blocking (Node said so), the probe reads on the loop's thread: it returns at once,
    // and a probe is one wake-up of the process instead of three (the timer, a thread-pool thread,
    // the loop again for its result). Else (Deno) one read waits on the thread pool until the end.
    if (handle._handle?.setBlocking?.(false) === 0 && !('Deno' in globalThis)) {
      polled.push({ fd, name });
      continue;
    }
    const own = Buffer.alloc(1);
    const waitForEnd = (): void =>
      void read(fd, own, 0, 1, null, (error, bytes) => {
        if (stopped) return;
        const result = probeResult(name, error, bytes);
        if (result) fire(result, fd);
        // A read that returned without the end (a byte, or EAGAIN on a descriptor left non-blocking) is tried again at the pace.
        else if (result === null) setTimeout(waitForEnd, pace()).unref();
      });
    waitForEnd();
  }
  let dueAt = 0;
  const schedule = () => {
    if (stopped || polled.length === 0) return;
    const ms = pace();
    dueAt = Date.now() + ms;
    timer = setTimeout(probe, ms).unref();
  };
  const probe = () => {
    for (const { fd, name } of polled) {
      if (stopped) return;
      let result: ProbeResult;
      try {
        result = probeResult(name, null, readSync(fd, byte, 0, 1, null));
      } catch (error) {
        result = probeResult(name, error as NodeJS.ErrnoException, 0);
      }
      if (result) return fire(result, fd);
      if (result === undefined) polled = polled.filter((p) => p.fd !== fd);
    }
    schedule();
  };
  probe();
  return {
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
    active: () => {
      activeUntil = Date.now() + ACTIVE_MS;
      // A probe due at the slow pace is brought forward.
      if (!stopped && polled.length > 0 && dueAt - Date.now() > FAST_MS) {
        clearTimeout(timer);
        schedule();
      }
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
