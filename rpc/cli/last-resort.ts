/**
 * The last-resort handlers of a long-running command (`mai serve`): nothing a client sends may take
 * the server down, so an uncaught exception or unhandled rejection (a bug) is logged, not fatal.
 * They cannot feed themselves: the logger never throws and never fails on a closed stderr
 * (core/log.ts), a report raised while reporting is dropped, and after MAX_REPORTS the rest are
 * only counted — a process whose stderr vanished once spun at 100 % logging the EPIPE of its own log line.
 */
import type { Logger } from '../../core/log.ts';

const MAX_REPORTS = 50;

export function installLastResortHandlers(log: Logger): void {
  let reporting = false;
  let reports = 0;
  const report = (what: string) => (reason: unknown) => {
    if (reporting) return;
    reporting = true;
    try {
      reports++;
      if (reports <= MAX_REPORTS) {
        log.error(`${what} (the server keeps running)`, reason instanceof Error ? reason.stack ?? reason : reason);
        if (reports === MAX_REPORTS) log.error(`${MAX_REPORTS} uncaught errors: later ones are not logged`);
      }
    } catch {
      // nothing is left to report with
    } finally {
      reporting = false;
    }
  };
  process.on('uncaughtException', report('uncaught exception'));
  process.on('unhandledRejection', report('unhandled rejection'));
}
