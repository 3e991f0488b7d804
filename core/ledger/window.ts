/** The window `mai stats --since` names: a duration back from now (90s, 30m, 1h, 7d, 1w) or an ISO date. */
import { ErrorCodes, MaiError } from '../errors.ts';

const units: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** The epoch ms the window starts at; null when `since` is neither a duration nor a date. */
export function parseSince(since: string, now = Date.now()): number | null {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$/i.exec(since);
  if (match) return now - Number(match[1]) * units[match[2]!.toLowerCase()]!;
  if (!/^\d{4}-\d{2}-\d{2}/.test(since.trim())) return null;
  const at = Date.parse(since);
  return Number.isNaN(at) ? null : at;
}

export function sinceOrThrow(since: string, now = Date.now()): number {
  const at = parseSince(since, now);
  if (at === null) {
    throw new MaiError(ErrorCodes.invalidParams, `"${since}" is not a window: give a duration back from now (90s, 30m, 1h, 7d, 2w) or a date (2026-11-28 or 2026-11-28T15:00:00Z).`, {
      data: { since },
    });
  }
  return at;
}
