/**
 * Watches turns for the ledger and the metrics without being on the reply's path: a turn's facts
 * are only collected while it runs (an array push each), and at its end the turn is queued; the
 * summary is built and handed to every sink on a later tick (setImmediate), after the reply is on
 * its way. A sink that throws is logged once and never reaches the turn.
 */
import type { Logger } from '../log.ts';
import type { TurnContext, TurnFact } from '../pipeline/turn.ts';
import { summarise, type TurnSummary } from './turn-summary.ts';

/** Whoever wants finished turns (the ledger, the metrics). */
export interface TurnSink {
  readonly name: string;
  turnEnded(summary: TurnSummary): void;
}

/** What Mai.chat holds for one turn: the end is told once, with the error if the turn failed. */
export interface TurnTrace {
  end(error?: unknown): void;
}

interface Ended {
  turn: TurnContext;
  facts: TurnFact[];
  endedAt: number;
  error: unknown;
}

export class TurnObserver {
  private pending: Ended[] = [];
  private scheduled: ReturnType<typeof setImmediate> | undefined;
  private readonly failedSinks = new Set<string>();

  constructor(
    private readonly sinks: readonly TurnSink[],
    private readonly log: Logger,
  ) {}

  /** Starts watching a turn: sets `turn.observe`, returns what is told the end. */
  begin(turn: TurnContext): TurnTrace {
    if (this.sinks.length === 0) return { end() {} };
    const facts: TurnFact[] = [];
    turn.observe = (fact) => void facts.push(fact);
    let ended = false;
    return {
      end: (error?: unknown) => {
        if (ended) return;
        ended = true;
        this.pending.push({ turn, facts, endedAt: Date.now(), error });
        this.scheduled ??= setImmediate(() => this.flush());
      },
    };
  }

  /** Hands every ended turn to the sinks now (status readers and close call it; normally a later tick does). */
  flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    const batch = this.pending;
    this.pending = [];
    for (const ended of batch) {
      let summary: TurnSummary;
      try {
        summary = summarise(ended.turn, ended.facts, ended.endedAt, ended.error);
      } catch (error) {
        this.log.warn('could not summarise a turn for the ledger and metrics', error);
        continue;
      }
      for (const sink of this.sinks) {
        try {
          sink.turnEnded(summary);
        } catch (error) {
          if (!this.failedSinks.has(sink.name)) this.log.warn(`the ${sink.name} could not record a turn (it goes on; this is said once)`, error);
          this.failedSinks.add(sink.name);
        }
      }
    }
  }
}
