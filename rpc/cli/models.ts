/** `mai models`: every model the backends list, ranked as the next turn would see them. */
import type { ModelsListResult } from '../mai-protocol.ts';
import { ModelsListRequest } from '../mai-protocol.ts';
import { clientOptions, parseCommandArgs, type Command } from './args.ts';
import { withClient, writeOut } from './common.ts';
import { bytes, table } from './format.ts';

const options = { ...clientOptions, 'available-only': { type: 'boolean' }, json: { type: 'boolean' } } as const;

/** A time of today as HH:MM:SS (local), else the whole ISO time. */
export function clock(iso: string): string {
  const at = new Date(iso);
  return at.toDateString() === new Date().toDateString() ? at.toTimeString().slice(0, 8) : iso;
}

/** Each server of a model: `backend` (this machine) or `backend@host`, busy/slots (`~` when the slots are the config's), pinned, cooling until when. */
function servers(m: ModelsListResult['models'][number]): string {
  return m.servers
    .map((s) => `${s.backend}${s.host === 'local' ? '' : `@${s.host}`} ${s.busy}/${s.slotsFrom === 'server' ? '' : '~'}${s.slots}${s.pinned ? ' pinned' : ''}${s.coolingDownUntil ? ` cooling until ${clock(s.coolingDownUntil)}` : ''}`)
    .join(', ');
}

/** What cools down now and why, one line each (the table has no room for the why). */
function coolingLines(report: ModelsListResult): string[] {
  const lines: string[] = [];
  for (const m of report.models) {
    if (m.coolingDownUntil) lines.push(`${m.id} cools down until ${clock(m.coolingDownUntil)}: ${m.coolingReason ?? 'repeated failures'}`);
    for (const s of m.servers) if (s.coolingDownUntil) lines.push(`${m.id}@${s.backend} cools down until ${clock(s.coolingDownUntil)}: ${s.coolingReason ?? 'it failed'}`);
  }
  return lines;
}

export function formatModels(report: ModelsListResult): string {
  if (report.models.length === 0) return 'No models: no configured backend listed any (see `mai status` for why).';
  const rows = report.models.map((m) => [
    `${m.id === report.current ? '*' : ' '}${m.id === report.pinned ? 'P' : ' '} ${m.id}`,
    servers(m),
    m.tier,
    String(m.contextLength),
    bytes(m.sizeBytes),
    m.loaded ? 'yes' : 'no',
    m.fits ? `yes (${m.score})` : `no: ${m.reason ?? ''}`,
  ]);
  const pin = report.pinned && report.pinnedReplica ? `${report.pinned}@${report.pinnedReplica}` : report.pinned;
  const legend = `* current  P pinned${pin ? ` (${pin}; \`mai switch auto\` unpins)` : ''}`;
  return [table(['   model', 'backend (host busy/slots)', 'tier', 'context', 'size', 'loaded', 'fits now'], rows), ...coolingLines(report), legend].join('\n');
}

export const modelsCommand: Command = {
  name: 'models',
  summary: 'list the models, whether each fits now and why not',
  help: `Usage: mai models [--available-only] [--json] [--standalone] [--config FILE]

Lists every model the configured backends report, best first, with whether it fits this machine
now and, if not, why.

Options:
      --available-only  only the models that fit now
      --json            the models/list result as JSON
      --config FILE     the config to use
      --standalone      Mai in this process, not the shared host (mai host --help)
  -h, --help            this help`,
  async run(args, io) {
    const { values } = parseCommandArgs('models', args, options);
    if (values.help) {
      io.stdout.write(`${this.help}\n`);
      return 0;
    }
    const report = await withClient({ config: values.config, standalone: values.standalone, name: 'mai models' }, io, (client) => client.request(ModelsListRequest, { availableOnly: values['available-only'] ?? false }));
    await writeOut(io, values.json ? `${JSON.stringify(report)}\n` : `${formatModels(report)}\n`);
    return 0;
  },
};
