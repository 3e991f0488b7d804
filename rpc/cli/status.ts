/** `mai status`: the current model, the pin, resources, backends, counters, loaded models, clients and queues. */
import { ModelsListRequest, StatusRequest, type ModelsListResult, type StatusResult } from '../mai-protocol.ts';
import { clientOptions, parseCommandArgs, type Command } from './args.ts';
import { withClient, writeOut } from './common.ts';
import { bytes, duration, percent, table } from './format.ts';
import { clock, formatModels } from './models.ts';

const options = { ...clientOptions, verbose: { type: 'boolean', short: 'v' }, json: { type: 'boolean' } } as const;

const orDash = (n: number | null) => (n === null ? '–' : String(n));

/** Where a backend runs and the load its server reports: host, slots, running/waiting, KV use, and from where. */
function describeLoad(b: StatusResult['backends'][number]): string {
  const parts = [b.local ? 'this machine' : `on ${b.host}`];
  const l = b.load;
  if (l) {
    if (l.source && !l.stale && !l.error) {
      parts.push(`${orDash(l.slots)} slots · ${orDash(l.running)} busy · ${orDash(l.waiting)} waiting${l.kvUsage === null ? '' : ` · KV ${percent(l.kvUsage)}`} (${l.source})`);
    } else if (l.error) parts.push(`load unknown: ${l.error}`);
    else if (l.stale) parts.push('load unknown: figures too old');
    for (const note of l.notes) parts.push(note);
  }
  return ` · ${parts.join(' · ')}`;
}

/** The pin, and what happens to a pinned server that cannot answer now. */
function describePin(status: StatusResult): string {
  if (status.pinned === null) return 'no (Mai picks per turn; `mai switch MODEL` pins)';
  const replica = status.pinnedReplica;
  if (replica === null) return status.pinned;
  const cooling = status.cooling.find((c) => c.model === status.pinned && c.backend === replica);
  const backend = status.backends.find((b) => b.name === replica);
  const down = cooling ? `cooling until ${clock(cooling.until)} (${cooling.reason})` : backend && !backend.reachable ? `not reachable (${backend.error ?? 'unknown'})` : '';
  return `${status.pinned} on ${replica}${down ? `: ${down}; its other servers answer meanwhile` : ''}`;
}

export function formatStatus(status: StatusResult, verbose: boolean): string {
  const r = status.resources;
  const lines = [
    `model      ${status.model ?? '(none yet: chosen at the first turn)'}`,
    `pinned     ${describePin(status)}`,
    `resources  cpu ${percent(r.cpuLoad)} · memory ${bytes(r.memFreeBytes)} free of ${bytes(r.memTotalBytes)} · ${r.gpus.length} GPU(s)`,
    ...status.backends.map((b, i) => `${i === 0 ? 'backends   ' : '           '}${b.name}: ${b.reachable ? 'reachable' : `not usable (${b.error ?? 'unknown'})`}${describeLoad(b)}`),
    `counters   ${status.counters.turns} turns · ${status.counters.fallbacks} fallbacks · ${status.counters.switches} switches`,
  ];
  if (status.lastSwitch) {
    const s = status.lastSwitch;
    lines.push(`last switch ${s.from ?? '(none)'} → ${s.to} (${s.reason}) at ${s.at}`);
  }
  lines.push(...status.cooling.map((c, i) => `${i === 0 ? 'cooling    ' : '           '}${c.backend ? `${c.model}@${c.backend}` : c.model} until ${clock(c.until)}: ${c.reason}`));
  lines.push(`loaded     ${status.loaded.length === 0 ? 'none' : status.loaded.map((m) => `${m.model} (${m.backend}${m.memoryBytes === null ? '' : `, ${bytes(m.memoryBytes)}`})`).join(' · ')}`);
  lines.push(...section('queues', table(['MODEL', 'RUNNING', 'WAITING'], status.queues.map((q) => [q.model, String(q.running), String(q.waiting)])), status.queues.length));
  const now = Date.now();
  const clientRows = status.clients.map((c) => [
    c.id,
    [c.name, c.version].filter(Boolean).join(' '),
    c.kind ?? '',
    String(c.inFlight),
    String(c.queued),
    String(c.turns),
    `${duration(Math.max(0, now - Date.parse(c.connectedAt)))} ago`,
  ]);
  lines.push(...section('clients', table(['ID', 'NAME', 'KIND', 'IN FLIGHT', 'QUEUED', 'TURNS', 'CONNECTED'], clientRows), status.clients.length));
  if (verbose) {
    lines.push(`config     ${status.config.file} (from ${status.config.source})`, `uptime     ${duration(status.uptimeMs)}`);
    for (const g of r.gpus) lines.push(`gpu        ${g.name}: ${bytes(g.vramFreeBytes)} free of ${bytes(g.vramTotalBytes)}`);
  }
  return lines.join('\n');
}

/** A titled table (indented under the title's column), or `none` when it has no rows. */
function section(title: string, text: string, rows: number): string[] {
  if (rows === 0) return [`${title.padEnd(11)}none`];
  return text.split('\n').map((line, i) => `${(i === 0 ? title : '').padEnd(11)}${line}`);
}

export const statusCommand: Command = {
  name: 'status',
  summary: 'show the current model, resources, backends, counters, loaded models, queues and clients',
  help: `Usage: mai status [-v] [--json] [--standalone] [--config FILE]

Options:
  -v, --verbose   also the config file, uptime, GPUs and every model with why it fits or not
      --json      the status result as JSON (with -v: {status, models})
      --config FILE  the config to use
      --standalone   Mai in this process, not the shared host (mai host --help)
  -h, --help      this help`,
  async run(args, io) {
    const { values } = parseCommandArgs('status', args, options);
    if (values.help) {
      io.stdout.write(`${this.help}\n`);
      return 0;
    }
    const verbose = values.verbose ?? false;
    const { status, models } = await withClient({ config: values.config, standalone: values.standalone, name: 'mai status' }, io, async (client) => ({
      status: await client.request(StatusRequest, {}),
      models: verbose ? await client.request(ModelsListRequest, {}) : null,
    }));
    if (values.json) await writeOut(io, `${JSON.stringify(models ? { status, models } : status)}\n`);
    else await writeOut(io, `${formatStatus(status, verbose)}${models ? `\n\n${formatModels(models as ModelsListResult)}` : ''}\n`);
    return 0;
  },
};
