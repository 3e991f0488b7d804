/**
 * What every CLI command shares beyond its flags (those are args.ts, which `mai serve`'s forwarder
 * loads alone): opening Mai from the config (a bad config is its one-paragraph message on stderr and exit code 2), the in-process
 * JSON-RPC link, and turning failures into a message on stderr and an exit code.
 */
import { ResponseError } from 'vscode-jsonrpc/node';
import { MaiError } from '../../core/errors.ts';
import { createLogger, levelFromEnv, type Logger } from '../../core/log.ts';
import type { LoadedConfig } from '../../core/config/load.ts';
import type { Mai } from '../../core/mai.ts';
import type { MaiClient } from '../client.ts';
import type { RpcErrorData } from '../error-codes.ts';
import { configErrorCodes, describeErrorData, toResponseError } from '../errors.ts';
import { ExitCodes, UsageError } from './args.ts';
import type { CliIo } from './io.ts';

/** The command's logger: MAI_LOG of its environment, lines to its log sink. */
export function logger(io: CliIo, scope = 'mai', level = levelFromEnv(io.env)): Logger {
  return io.log ? createLogger(scope, level, io.log) : createLogger(scope, level);
}

/**
 * Builds Mai from the config the flag (or MAI_CONFIG, ./mai.config.yaml, …) names. Mai's module
 * graph (config, plugins, backends' dependencies) is imported here, not when the CLI starts, so
 * `mai serve` answers `initialize` without loading it.
 */
export async function openMai(config: string | undefined, log: Logger, options: { exporters?: boolean; io?: Pick<CliIo, 'env' | 'cwd'> } = {}): Promise<Mai> {
  const [{ Mai }, { builtinPlugins }] = await Promise.all([import('../../core/mai.ts'), import('../../plugins/index.ts')]);
  const { io, ...rest } = options;
  const where = io ? { find: { flag: config, env: io.env, cwd: io.cwd }, env: io.env } : { find: { flag: config } };
  return Mai.create({ ...where, log, plugins: builtinPlugins, ...rest });
}

export interface ClientScope {
  /** --config */
  config: string | undefined;
  /** --standalone */
  standalone?: boolean | undefined;
  /** The command, as the host's `status` names the client. */
  name: string;
}

/**
 * Runs `body` with a client of Mai: the shared host's for the config (reached or started,
 * rpc/host/), else Mai built in this process behind the in-process link (--standalone, or when
 * no host can start). `config()` is the config the answering Mai runs.
 */
export async function withClient<T>(scope: ClientScope, io: CliIo, body: (client: MaiClient, config: () => Promise<LoadedConfig>) => Promise<T>): Promise<T> {
  const log = logger(io);
  const { standaloneWanted, useHost } = await import('../host/use-host.ts');
  const reached = standaloneWanted(scope.standalone, io.env) ? null : await useHost({ flag: scope.config, env: io.env, cwd: io.cwd }, 'mai', scope.name, io);
  if (reached) {
    const { linkToHost } = await import('../host/link.ts');
    const link = linkToHost(reached, scope.name);
    // The config (zod, YAML) is read only by a command that asks for it (batch): `mai chat` never loads it.
    const config = async () => (await import('../../core/config/load.ts')).loadConfig({ flag: reached.address.configFile, env: io.env, cwd: io.cwd });
    try {
      return await body(link.client, config);
    } finally {
      await link.close();
    }
  }
  const mai = await openMai(scope.config, log, { io });
  // Imported here, not at the top: it loads the protocol's zod schemas, which `mai serve` (a user
  // of this module) must not load before it answers `initialize`.
  const { linkInProcess } = await import('../in-process.ts');
  const link = linkInProcess(mai, log);
  try {
    return await body(link.client, async () => mai.config);
  } finally {
    await link.close();
    await mai.close().catch((error: unknown) => log.debug('closing Mai failed', error));
  }
}

/** A failed request as the JSON the CLI prints for it (`chat --json`, a `mai batch` line): its JSON-RPC error. */
export function errorJson(error: unknown): { code: number; message: string; data?: unknown } {
  return toResponseError(error).toJson();
}

/** Prints what went wrong on the command's stderr and returns the exit code. */
export function reportFailure(error: unknown, io: CliIo): number {
  if (error instanceof UsageError) {
    io.stderr.write(`mai: ${error.message}\n`);
    return ExitCodes.usage;
  }
  if (error instanceof MaiError) {
    io.stderr.write(`${configErrorCodes.has(error.code) ? '' : 'mai: '}${error.message}\n`);
    return configErrorCodes.has(error.code) ? ExitCodes.usage : ExitCodes.failed;
  }
  if (error instanceof ResponseError) {
    io.stderr.write(`mai: ${error.message}\n${describeErrorData(error.data as RpcErrorData | undefined)}`);
    return ExitCodes.failed;
  }
  const message = error instanceof Error ? (io.env.MAI_LOG === 'debug' ? (error.stack ?? error.message) : error.message) : String(error);
  io.stderr.write(`mai: ${message}\n`);
  return ExitCodes.failed;
}

/** Reads all of a stream (piped stdin) as text. */
export async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  stream.setEncoding('utf8');
  for await (const chunk of stream) text += chunk as string;
  return text;
}

/** Writes to the command's stdout and waits until it is handed on (so exit loses nothing). */
export function writeOut(io: CliIo, text: string): Promise<void> {
  return new Promise((resolve) => {
    if (!io.stdout.write(text)) io.stdout.once('drain', resolve);
    else resolve();
  });
}
