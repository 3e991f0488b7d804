/** monitor — works before next(): attaches the latest resource snapshot (it never waits on a probe). */
import type { ResourceMonitor } from '../monitor/resource-monitor.ts';
import type { Middleware } from '../pipeline/compose.ts';
import type { TurnContext } from '../pipeline/turn.ts';

export interface MonitorStageOptions {
  monitor: ResourceMonitor;
}

export function monitorStage(options: MonitorStageOptions): Middleware<TurnContext> {
  return async function monitor(turn, next) {
    turn.resources = options.monitor.latest();
    await next();
  };
}
