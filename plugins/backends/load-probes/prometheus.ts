/**
 * Reading a server's Prometheus `/metrics`: parsed with parse-prometheus-text-format (a small,
 * dependency-light port of the Prometheus Python client's parser, prom2json's output shape),
 * then reduced to the figures Mai routes by. A page that parses to no metric at all (an HTML
 * error page, JSON) or that the parser rejects is "not Prometheus text", said so in `mai status`.
 */
import parsePrometheusTextFormat, { type PrometheusFamily } from 'parse-prometheus-text-format';
import { ErrorCodes, MaiError } from '../../../core/errors.ts';

/** Metric values by name, each the list of its samples' values (one per label set). */
export type MetricValues = Map<string, number[]>;

export function parseMetrics(text: string, path = '/metrics'): MetricValues {
  let families: PrometheusFamily[];
  try {
    families = parsePrometheusTextFormat(text);
  } catch (cause) {
    throw new MaiError(ErrorCodes.serverError, `GET ${path} is not Prometheus text (${(cause as Error).message.slice(0, 120)})`, { cause });
  }
  if (families.length === 0) throw new MaiError(ErrorCodes.serverError, `GET ${path} is not Prometheus text (no metric in ${text.length} bytes)`);
  const out: MetricValues = new Map();
  for (const family of families) {
    const values = family.metrics.map((m) => Number(m.value)).filter((v) => Number.isFinite(v));
    if (values.length > 0) out.set(family.name, values);
  }
  return out;
}

/** The sum over label sets (engines, models) of the first of `names` present; null when none is. */
export function total(metrics: MetricValues, ...names: string[]): number | null {
  for (const name of names) {
    const values = metrics.get(name);
    if (values) return values.reduce((a, b) => a + b, 0);
  }
  return null;
}

/** The highest value over label sets of the first of `names` present (for shares such as KV use). */
export function highest(metrics: MetricValues, ...names: string[]): number | null {
  for (const name of names) {
    const values = metrics.get(name);
    if (values) return Math.max(...values);
  }
  return null;
}

/** Whether any metric's name starts with `prefix` (which server published the page). */
export function publishes(metrics: MetricValues, prefix: string): boolean {
  for (const name of metrics.keys()) if (name.startsWith(prefix)) return true;
  return false;
}
