/** `mai switch MODEL|auto`: pins a model (kept in Mai's state directory) or unpins. */
import { ModelsSwitchRequest } from '../protocol.ts';
import { clientOptions, parseCommandArgs, UsageError, withClient, writeOut, type Command } from './common.ts';

export const switchCommand: Command = {
  name: 'switch',
  summary: 'pin a model for every turn, or `auto` to let Mai choose',
  help: `Usage: mai switch MODEL|auto [--standalone] [--config FILE]

Pins MODEL: every turn uses it while it fits. The pin is saved in Mai's state directory
($XDG_STATE_HOME/mai, or the config's context.stateDir) and outlives the process.
\`mai switch auto\` unpins. \`mai models\` lists the ids.

Options:
  --config FILE   the config to use
  --standalone    Mai in this process, not the shared host (mai host --help)
  -h, --help      this help`,
  async run(args) {
    const { values, positionals } = parseCommandArgs('switch', args, clientOptions);
    if (values.help) {
      process.stdout.write(`${this.help}\n`);
      return 0;
    }
    const [model, ...extra] = positionals;
    if (model === undefined || extra.length > 0) throw new UsageError('name one model to pin, or `auto` to unpin: mai switch MODEL|auto.');
    const result = await withClient({ config: values.config, standalone: values.standalone, name: 'mai switch' }, (client) => client.request(ModelsSwitchRequest, { model }));
    await writeOut(result.pinned ? `Pinned ${result.pinned}; \`mai switch auto\` unpins.\n` : 'Unpinned: Mai picks the best model for each turn.\n');
    return 0;
  },
};
