/** The `mai` command line: picks the subcommand, runs it, and turns any failure into an exit code. */
import { maiVersion } from '../version.ts';
import { UsageError, type Command } from './args.ts';
import { processIo, type CliIo } from './io.ts';

/**
 * Every command, loaded only when it runs: `mai serve` must not load what chat, batch… import
 * (the protocol's schemas among them) before it answers `initialize`. The summaries stay in the
 * command modules (one place), so `mai --help` loads them all.
 */
const commandLoaders: ReadonlyArray<readonly [name: string, load: () => Promise<Command>]> = [
  ['serve', async () => (await import('./serve.ts')).serveCommand],
  ['chat', async () => (await import('./chat.ts')).chatCommand],
  ['status', async () => (await import('./status.ts')).statusCommand],
  ['stats', async () => (await import('./stats.ts')).statsCommand],
  ['models', async () => (await import('./models.ts')).modelsCommand],
  ['switch', async () => (await import('./switch.ts')).switchCommand],
  ['batch', async () => (await import('./batch.ts')).batchCommand],
  ['host', async () => (await import('./host.ts')).hostCommand],
  ['conversations', async () => (await import('./conversations.ts')).conversationsCommand],
];

export const commandNames: readonly string[] = commandLoaders.map(([name]) => name);

/** Loads a command by name (undefined for an unknown name). */
export function loadCommand(name: string): Promise<Command> | undefined {
  return commandLoaders.find(([known]) => known === name)?.[1]();
}

/** Every command, loaded (for `mai --help`). */
export function loadCommands(): Promise<Command[]> {
  return Promise.all(commandLoaders.map(([, load]) => load()));
}

export async function usage(): Promise<string> {
  const commands = await loadCommands();
  const width = Math.max(...commands.map((c) => c.name.length));
  return `Usage: mai <command> [options]

Mai answers each chat turn with the best local model that fits the machine now.

Commands:
${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Every command takes --config FILE and --help. \`mai <command> --help\` says more.
serve, chat, status, models, switch and batch share one host per config (started when none
runs; see \`mai host --help\`); --standalone (or MAI_STANDALONE=1) runs Mai in the command itself.
mai --version (or -V) prints Mai's version.
Exit codes: 0 done, 1 a request failed, 2 bad usage or a bad config, 130 interrupted.`;
}

/** Runs `mai ARGV…` with `io` (default: this process's stdio, environment and folder); resolves to the exit code. */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const [name, ...args] = argv;
  try {
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      io.stdout.write(`${await usage()}\n`);
      return name === undefined ? 2 : 0;
    }
    if (name === '--version' || name === '-V') {
      io.stdout.write(`${maiVersion()}\n`);
      return 0;
    }
    const command = loadCommand(name);
    if (!command) throw new UsageError(`unknown command "${name}". Commands: ${commandNames.join(', ')}. See \`mai --help\`.`);
    return await (await command).run(args, io);
  } catch (error) {
    // Loaded only on a failure: common.ts brings vscode-jsonrpc, which the forwarder never needs.
    return (await import('./common.ts')).reportFailure(error, io);
  }
}
