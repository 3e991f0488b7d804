/** `mai host`: the shared host in the foreground (clients start it themselves; this is for running it by hand). */
import { configOption, parseCommandArgs, type Command } from './args.ts';
import { logger, openMai } from './common.ts';

export const hostCommand: Command = {
  name: 'host',
  summary: 'run the shared host in the foreground (mai serve and the CLI start it when none runs)',
  help: `Usage: mai host [--config FILE]

Runs the host every \`mai serve\`, \`mai chat\`, \`status\`, \`models\`, \`switch\` and \`batch\` for
this config talks to: one Mai (one catalogue, monitor, set of loaded models and queue per model)
on a Unix socket in $XDG_RUNTIME_DIR/mai (else the state folder's run/), private to you. Clients
start it detached when none runs, with its log in the state folder; it exits after
host.idleExitMs (config) without clients (0: when the last one leaves; it awaits its
first client up to 60 s whatever the setting), or on SIGTERM/SIGINT.

Options:
  --config FILE   the config to serve (default: $MAI_CONFIG, ./mai.config.yaml, the built-in)
  -h, --help      this help`,
  async run(args, io) {
    const { values } = parseCommandArgs('host', args, configOption);
    if (values.help) {
      io.stdout.write(`${this.help}\n`);
      return 0;
    }
    // The log file says who came and went: at least info, debug when MAI_LOG=debug.
    const log = logger(io, 'mai-host', io.env.MAI_LOG?.toLowerCase() === 'debug' ? 'debug' : 'info');
    const { runHost } = await import('../host/host.ts');
    return runHost({ find: { flag: values.config, env: io.env, cwd: io.cwd }, log, open: () => openMai(values.config, log, { io }) });
  },
};
