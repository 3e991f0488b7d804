/**
 * monitor — works before next(): attaches the latest resource snapshot. It never runs a probe
 * itself: sampling happens in a worker thread; only a snapshot gone stale (older than two
 * intervals) makes it wait, for at most the monitor's short sample timeout, for a fresh one.
 */
import type { ResourceMonitor } from '../monitor/resource-monitor.ts';
import type { Middleware } from '../pipeline/compose.ts';
import type { TurnContext } from '../pipeline/turn.ts';

export interface MonitorStageOptions {
  monitor: ResourceMonitor;
}

export function monitorStage(options: MonitorStageOptions): Middleware<TurnContext> {
  return async function monitor(turn, next) {
    turn.resources = await options.monitor.current();
    await next();
  };
}
