/**
 * Mai's logger. Every line goes to stderr: stdout belongs to the protocol writer alone.
 * The level comes from MAI_LOG (error, warn, info, debug; default warn).
 */
const levels = { silent: 0, error: 1, warn: 2, info: 3, debug: 4 } as const;
export type LogLevel = keyof typeof levels;

export interface Logger {
  error(message: string, extra?: unknown): void;
  warn(message: string, extra?: unknown): void;
  info(message: string, extra?: unknown): void;
  debug(message: string, extra?: unknown): void;
  child(scope: string): Logger;
}

/** The level MAI_LOG names in `env` (default: the process's environment), else warn. */
export function levelFromEnv(env: Readonly<Record<string, string | undefined>> | undefined = typeof process !== 'undefined' ? process.env : undefined): LogLevel {
  const value = env?.MAI_LOG?.toLowerCase();
  return value && value in levels ? (value as LogLevel) : 'warn';
}

/** `sink` receives each line (default: stderr, through writeStderr). */
export function createLogger(scope = 'mai', level: LogLevel = levelFromEnv(), sink: (text: string) => void = writeStderr): Logger {
  const threshold = levels[level];
  const write = (at: Exclude<LogLevel, 'silent'>, message: string, extra?: unknown) => {
    if (levels[at] > threshold) return;
    const tail = extra === undefined ? '' : ` ${extra instanceof Error ? extra.message : safeJson(extra)}`;
    sink(`[${scope}] ${at}: ${message}${tail}\n`);
  };
  return {
    error: (m, e) => write('error', m, e),
    warn: (m, e) => write('warn', m, e),
    info: (m, e) => write('info', m, e),
    debug: (m, e) => write('debug', m, e),
    child: (name) => createLogger(`${scope}:${name}`, level, sink),
  };
}

let stderrBroken = false;
let watching = false;
const brokenListeners: Array<() => void> = [];

function markBroken(): void {
  if (stderrBroken) return;
  stderrBroken = true;
  for (const listener of brokenListeners.splice(0)) listener();
}

/**
 * Writes to stderr and can never fail: once a write fails (EPIPE, a closed socket, a destroyed
 * stream) stderr counts as gone and every later line is dropped. Without this, a process whose
 * stderr was closed logged the EPIPE of its last log line as an uncaught exception… to stderr, forever.
 */
export function writeStderr(text: string): void {
  if (stderrBroken || typeof process === 'undefined') return;
  const stream = process.stderr;
  if (!watching) {
    watching = true;
    stream.on('error', markBroken);
  }
  if (stream.destroyed || stream.writableEnded) {
    markBroken();
    return;
  }
  try {
    stream.write(text);
  } catch {
    markBroken();
  }
}

/** Calls `listener` once stderr is found gone (at once if it already is). */
export function onStderrGone(listener: () => void): void {
  if (stderrBroken) listener();
  else brokenListeners.push(listener);
}

/** Counts stderr as gone (its reader closed it, seen by other means than a failed write). */
export function stderrGone(): void {
  markBroken();
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}
