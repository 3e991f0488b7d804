/** The `mai` command line: picks the subcommand, runs it, and turns any failure into an exit code. */
import { maiVersion } from '../version.ts';
import { batchCommand } from './batch.ts';
import { chatCommand } from './chat.ts';
import { reportFailure, UsageError, type Command } from './common.ts';
import { modelsCommand } from './models.ts';
import { serveCommand } from './serve.ts';
import { statusCommand } from './status.ts';
import { switchCommand } from './switch.ts';

export const commands: readonly Command[] = [serveCommand, chatCommand, statusCommand, modelsCommand, switchCommand, batchCommand];

export function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return `Usage: mai <command> [options]

Mai answers each chat turn with the best local model that fits the machine now.

Commands:
${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Every command takes --config FILE and --help. \`mai <command> --help\` says more.
Exit codes: 0 done, 1 a request failed, 2 bad usage or a bad config, 130 interrupted.`;
}

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`${maiVersion()}\n`);
    return 0;
  }
  const command = commands.find((c) => c.name === name);
  try {
    if (!command) throw new UsageError(`unknown command "${name}". Commands: ${commands.map((c) => c.name).join(', ')}. See \`mai --help\`.`);
    return await command.run(args);
  } catch (error) {
    return reportFailure(error);
  }
}
