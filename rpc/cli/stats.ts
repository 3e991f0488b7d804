/** `mai stats`: per model and per backend over a window, from the ledger every Mai process writes. */
import { parseSince } from '../../core/ledger/window.ts';
import { StatsRequest, type StatsResult } from '../mai-protocol.ts';
import { clientOptions, parseCommandArgs, UsageError, type Command } from './args.ts';
import { withClient, writeOut } from './common.ts';
import { duration, table } from './format.ts';

const options = { ...clientOptions, since: { type: 'string' }, buckets: { type: 'string' }, json: { type: 'boolean' } } as const;

const ms = (n: number | null | undefined) => (n === null || n === undefined ? '—' : n < 1000 ? `${Math.round(n)} ms` : `${(n / 1000).toFixed(2)} s`);
const rate = (n: number | null) => (n === null ? '—' : `${(n * 100).toFixed(n > 0 && n < 0.1 ? 1 : 0)}%`);

/** One character per slice: full, partly, not reachable, or no turn saw the backend then. */
function bar(buckets: StatsResult['backends'][number]['buckets']): string {
  return buckets.map((b) => (b.reachable === null ? '·' : b.reachable >= 0.999 ? '█' : b.reachable > 0 ? '▄' : '_')).join('');
}

export function formatStats(s: StatsResult, window: string): string {
  const t = s.turns;
  const span = /^\s*\d{4}-/.test(window) ? `since ${s.since}` : `in the last ${window} (since ${s.since})`;
  const head = `${t.total} turns ${span}: ${t.ok} ok · ${t.failed} failed · ${t.cancelled} cancelled · ${t.fallbacks} fallbacks · ${t.switches} switches`;
  if (t.total === 0) {
    return `${head}\nThe ledger (${s.ledger.dir}) has no turn in this window${s.ledger.files === 0 ? ': no ledger file yet (each finished turn adds a line; ledger.enabled turns it on)' : ''}.`;
  }
  const models = table(
    ['model', 'backend', 'turns', 'answered', 'failure rate', 'fallbacks from / to', 'first token p50 / p95', 'tokens/s p50', 'queue wait p50'],
    s.models.map((m) => [
      m.model,
      m.backend,
      String(m.turns),
      String(m.answered),
      `${rate(m.failureRate)} (${m.failures}/${m.attempts})`,
      `${m.fallbacksFrom} / ${m.fallbacksTo}`,
      m.ttftMs ? `${ms(m.ttftMs.p50)} / ${ms(m.ttftMs.p95)}` : '—',
      m.tokensPerSecondP50 === null ? '—' : m.tokensPerSecondP50.toFixed(1),
      ms(m.queueWaitMsP50),
    ]),
  );
  const slices = s.backends[0]?.buckets.length ?? 0;
  const backends = table(
    ['backend', 'reachable', `over time (${slices} × ${duration(s.bucketMs)}, oldest first; █ up ▄ partly _ down · no turn)`],
    s.backends.map((b) => [b.backend, `${rate(b.reachable)} of ${b.turns} turns`, bar(b.buckets)]),
  );
  const unreadable = s.ledger.unreadable ? `\n${s.ledger.unreadable} unreadable ledger line(s) skipped.` : '';
  return `${head}\n\n${models}\n\n${backends}${unreadable}`;
}

export const statsCommand: Command = {
  name: 'stats',
  summary: 'per model: turns, failures, fallbacks, first-token time, speed, queue wait (from the ledger)',
  help: `Usage: mai stats [--since 1h] [--json] [--config FILE]

Per model over a window: turns, failure rate, fallbacks from and to it, p50/p95 time to the first
token, p50 tokens/s and p50 queue wait; per backend, how often it was reachable, over time.
Read from the ledger in the state directory (<stateDir>/ledger), which every Mai process appends
a line to per turn, so the figures survive restarts.

Options:
      --since WINDOW  a duration back from now (90s, 30m, 1h, 7d, 2w) or a date; default 24h
      --buckets N     slices of the window for reachability over time (default 12)
      --json          the stats result as JSON
      --config FILE   the config to use
      --standalone    Mai in this process, not the shared host
  -h, --help          this help`,
  async run(args, io) {
    const { values } = parseCommandArgs('stats', args, options);
    if (values.help) {
      io.stdout.write(`${this.help}\n`);
      return 0;
    }
    const since = values.since ?? '24h';
    if (parseSince(since) === null) throw new UsageError(`--since "${since}" is not a window: give a duration (90s, 30m, 1h, 7d, 2w) or a date (2026-11-28T15:00:00Z). See \`mai stats --help\`.`);
    const buckets = values.buckets === undefined ? undefined : Number(values.buckets);
    if (buckets !== undefined && !(Number.isInteger(buckets) && buckets >= 1 && buckets <= 200)) {
      throw new UsageError(`--buckets "${values.buckets}" must be a whole number from 1 to 200. See \`mai stats --help\`.`);
    }
    const report = await withClient({ config: values.config, standalone: values.standalone, name: 'mai stats' }, io, (client) => client.request(StatsRequest, { since, ...(buckets ? { buckets } : {}) }));
    await writeOut(io, values.json ? `${JSON.stringify(report)}\n` : `${formatStats(report, since)}\n`);
    return 0;
  },
};
