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

function levelFromEnv(): LogLevel {
  const value = (typeof process !== 'undefined' ? process.env.MAI_LOG : undefined)?.toLowerCase();
  return value && value in levels ? (value as LogLevel) : 'warn';
}

export function createLogger(scope = 'mai', level: LogLevel = levelFromEnv()): Logger {
  const threshold = levels[level];
  const write = (at: Exclude<LogLevel, 'silent'>, message: string, extra?: unknown) => {
    if (levels[at] > threshold) return;
    const tail = extra === undefined ? '' : ` ${extra instanceof Error ? extra.message : safeJson(extra)}`;
    process.stderr.write(`[${scope}] ${at}: ${message}${tail}\n`);
  };
  return {
    error: (m, e) => write('error', m, e),
    warn: (m, e) => write('warn', m, e),
    info: (m, e) => write('info', m, e),
    debug: (m, e) => write('debug', m, e),
    child: (name) => createLogger(`${scope}:${name}`, level),
  };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}
