/** Percentiles and number formatting for the tables. */

/**
 * The q-quantile (0..1) of `values`, linearly interpolated between the closest ranks.
 * @param {readonly number[]} values
 * @param {number} q
 */
export function quantile(values, q) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const at = q * (sorted.length - 1);
  const low = Math.floor(at);
  const high = Math.min(sorted.length - 1, low + 1);
  return /** @type {number} */ (sorted[low]) + (/** @type {number} */ (sorted[high]) - /** @type {number} */ (sorted[low])) * (at - low);
}

/** @param {readonly number[]} values */
export const p50 = (values) => quantile(values, 0.5);
/** @param {readonly number[]} values */
export const p99 = (values) => quantile(values, 0.99);

/**
 * The median of `values` and a distribution-free 95 % interval for it: the order statistics at
 * ranks n/2 ∓ 0.98·√n (the binomial's normal approximation), as a sign test gives it.
 * @param {readonly number[]} values
 */
export function medianInterval(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const half = 0.98 * Math.sqrt(n);
  const at = (/** @type {number} */ rank) => /** @type {number} */ (sorted[Math.min(n - 1, Math.max(0, rank))]);
  return { median: p50(sorted), low: at(Math.floor(n / 2 - half) - 1), high: at(Math.ceil(n / 2 + half) - 1) };
}

/** @param {readonly number[]} values */
export function mean(values) {
  return values.reduce((sum, v) => sum + v, 0) / Math.max(1, values.length);
}

/**
 * Milliseconds with a precision that suits their size.
 * @param {number} ms
 */
export function ms(ms) {
  if (!Number.isFinite(ms)) return '—';
  const abs = Math.abs(ms);
  return `${abs >= 100 ? ms.toFixed(0) : abs >= 10 ? ms.toFixed(1) : ms.toFixed(2)} ms`;
}

/** A signed difference in ms ("+1.23 ms"). @param {number} value */
export function plusMs(value) {
  return `${value >= 0 ? '+' : '−'}${ms(Math.abs(value))}`;
}

/** A ratio ("1.04×"). @param {number} value */
export function times(value) {
  return Number.isFinite(value) ? `${value.toFixed(value >= 10 ? 1 : 2)}×` : '—';
}

/** A share as a percentage. @param {number} value */
export function percent(value) {
  return Number.isFinite(value) ? `${(value * 100).toFixed(1)}%` : '—';
}

/** A rate ("12,345/s"). @param {number} value */
export function perSecond(value) {
  return `${Math.round(value).toLocaleString('en-US')}/s`;
}
