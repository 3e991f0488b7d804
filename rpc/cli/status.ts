/** `mai status`: the current model, the pin, resources, backends and counters. */
import { ModelsListRequest, StatusRequest, type ModelsListResult, type StatusResult } from '../protocol.ts';
import { clientOptions, parseCommandArgs, withClient, writeOut, type Command } from './common.ts';
import { bytes, duration, percent } from './format.ts';
import { formatModels } from './models.ts';

const options = { ...clientOptions, verbose: { type: 'boolean', short: 'v' }, json: { type: 'boolean' } } as const;

function formatStatus(status: StatusResult, verbose: boolean): string {
  const r = status.resources;
  const lines = [
    `model      ${status.model ?? '(none yet: chosen at the first turn)'}`,
    `pinned     ${status.pinned ?? 'no (Mai picks per turn; `mai switch MODEL` pins)'}`,
    `resources  cpu ${percent(r.cpuLoad)} · memory ${bytes(r.memFreeBytes)} free of ${bytes(r.memTotalBytes)} · ${r.gpus.length} GPU(s)`,
    ...status.backends.map((b, i) => `${i === 0 ? 'backends   ' : '           '}${b.name}: ${b.reachable ? 'reachable' : `unreachable (${b.error ?? 'unknown'})`}`),
    `counters   ${status.counters.turns} turns · ${status.counters.fallbacks} fallbacks · ${status.counters.switches} switches`,
  ];
  if (status.lastSwitch) {
    const s = status.lastSwitch;
    lines.push(`last switch ${s.from ?? '(none)'} → ${s.to} (${s.reason}) at ${s.at}`);
  }
  if (verbose) {
    lines.push(`config     ${status.config.file} (from ${status.config.source})`, `uptime     ${duration(status.uptimeMs)}`);
    for (const g of r.gpus) lines.push(`gpu        ${g.name}: ${bytes(g.vramFreeBytes)} free of ${bytes(g.vramTotalBytes)}`);
  }
  return lines.join('\n');
}

export const statusCommand: Command = {
  name: 'status',
  summary: 'show the current model, resources, backends and counters',
  help: `Usage: mai status [-v] [--json] [--standalone] [--config FILE]

Options:
  -v, --verbose   also the config file, uptime, GPUs and every model with why it fits or not
      --json      the status result as JSON (with -v: {status, models})
      --config FILE  the config to use
      --standalone   Mai in this process, not the shared host (mai host --help)
  -h, --help      this help`,
  async run(args) {
    const { values } = parseCommandArgs('status', args, options);
    if (values.help) {
      process.stdout.write(`${this.help}\n`);
      return 0;
    }
    const verbose = values.verbose ?? false;
    const { status, models } = await withClient({ config: values.config, standalone: values.standalone, name: 'mai status' }, async (client) => ({
      status: await client.request(StatusRequest, {}),
      models: verbose ? await client.request(ModelsListRequest, {}) : null,
    }));
    if (values.json) await writeOut(`${JSON.stringify(models ? { status, models } : status)}\n`);
    else await writeOut(`${formatStatus(status, verbose)}${models ? `\n\n${formatModels(models as ModelsListResult)}` : ''}\n`);
    return 0;
  },
};
