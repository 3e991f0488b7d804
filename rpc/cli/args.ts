/**
 * The commands' flags (node's util.parseArgs), usage errors and exit codes: free of vscode-jsonrpc,
 * zod and Mai's core, so `mai serve` loads this and not common.ts when it forwards to the host.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { CliIo } from './io.ts';

/** Exit codes: 0 done, 1 a request failed, 2 bad usage or a bad config, 130 interrupted. */
export const ExitCodes = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

export interface Command {
  name: string;
  summary: string;
  help: string;
  /** Runs with the streams, environment and folder `io` gives (the process's, or a test's). */
  run(args: string[], io: CliIo): Promise<number>;
}

/** A mistake in how the command was called: its message and exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

type Options = NonNullable<ParseArgsConfig['options']>;

export const configOption = { config: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const satisfies Options;

/** The client commands' escape from the shared host (MAI_STANDALONE=1 does the same). */
export const clientOptions = { ...configOption, standalone: { type: 'boolean' } } as const satisfies Options;

type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>>;

/** util.parseArgs, strict, with its errors turned into usage errors that point at --help. */
export function parseCommandArgs<const O extends Options>(command: string, args: string[], options: O): Parsed<O> {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${(error as Error).message.replace(/\.$/, '')}. See \`mai ${command} --help\`.`);
  }
}

