/** `mai switch MODEL[@BACKEND]|auto`: pins a model, or one of its servers (kept in Mai's state directory), or unpins. */
import { ModelsSwitchRequest } from '../mai-protocol.ts';
import { clientOptions, parseCommandArgs, UsageError, type Command } from './args.ts';
import { withClient, writeOut } from './common.ts';

export const switchCommand: Command = {
  name: 'switch',
  summary: 'pin a model for every turn, or `auto` to let Mai choose',
  help: `Usage: mai switch MODEL[@BACKEND]|auto [--standalone] [--config FILE]

Pins MODEL: every turn uses it while it fits. The pin is saved in Mai's state directory
($XDG_STATE_HOME/mai, or the config's context.stateDir) and outlives the process.
MODEL@BACKEND pins one server of a model several serve: it answers every turn while it is not
cooling down after a failure; meanwhile the model's other servers answer (\`mai status\` says
until when and why). \`mai switch auto\` unpins. \`mai models\` lists the ids and servers.

Options:
  --config FILE   the config to use
  --standalone    Mai in this process, not the shared host (mai host --help)
  -h, --help      this help`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs('switch', args, clientOptions);
    if (values.help) {
      io.stdout.write(`${this.help}\n`);
      return 0;
    }
    const [model, ...extra] = positionals;
    if (model === undefined || extra.length > 0) throw new UsageError('name one model to pin, or `auto` to unpin: mai switch MODEL|auto.');
    const result = await withClient({ config: values.config, standalone: values.standalone, name: 'mai switch' }, io, (client) => client.request(ModelsSwitchRequest, { model }));
    const what = result.replica ? `${result.pinned} on ${result.replica}` : result.pinned;
    await writeOut(io, what ? `Pinned ${what}; \`mai switch auto\` unpins.\n` : 'Unpinned: Mai picks the best model for each turn.\n');
    return 0;
  },
};
