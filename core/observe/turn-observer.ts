/**
 * Watches turns for the ledger and the metrics without being on the reply's path: a turn's facts
 * are only collected while it runs (an array push each), and at its end the turn is queued. The
 * queued turns are summarised and handed to every sink in one batch BATCH_MS later — well after
 * their replies went out (a setImmediate would run before the RPC layer writes the reply, which
 * is also scheduled on setImmediate), and at most once per BATCH_MS however many turns end.
 * Whoever reads what the sinks hold (stats, metrics, close) flushes first, so nothing is stale
 * to a reader. A sink that throws is logged once and never reaches the turn.
 */
import { randomUUID } from 'node:crypto';
import { clearTimeout, setTimeout } from 'node:timers';
import type { Logger } from '../log.ts';
import type { TurnContext, TurnFact, TurnRequest } from '../pipeline/turn.ts';
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

/**
 * How long ended turns wait to be handed to the sinks: once a second at most, so the batch's work
 * and its file writes' completions touch few turns (a crash that skips the exit hook — SIGKILL,
 * power — loses at most this much of the ledger; a normal exit loses nothing).
 */
export const BATCH_MS = 1_000;

const NEVER_ABORTED = new AbortController().signal;

export class TurnObserver {
  private pending: Ended[] = [];
  private scheduled: ReturnType<typeof setTimeout> | undefined;
  private readonly failedSinks = new Set<string>();

  constructor(
    private readonly sinks: readonly TurnSink[],
    private readonly log: Logger,
  ) {}

  private queue(ended: Ended): void {
    this.pending.push(ended);
    // Unref'd: a batch waiting never keeps the process alive; at exit the ledger's hook writes it (exit-flush.ts).
    this.scheduled ??= setTimeout(() => this.flush(), BATCH_MS).unref();
  }

  /**
   * A turn that failed before its pipeline started (the client was gone, the request named a
   * conversation that is not valid or cannot be read): recorded with its error and no attempt.
   */
  endedBeforeStart(request: TurnRequest, startedAt: number, error: unknown, signal: AbortSignal = NEVER_ABORTED): void {
    if (this.sinks.length === 0) return;
    const turn: TurnContext = {
      id: randomUUID(),
      request,
      signal,
      startedAt,
      emit() {},
      conversationId: typeof request.conversationId === 'string' ? request.conversationId.slice(0, 200) : '',
      history: [],
      added: 0,
      needs: { capabilities: [], minPromptTokens: 0, fullPromptTokens: 0, replyTokens: 0 },
      attempts: [],
      streamed: false,
    };
    this.queue({ turn, facts: [], endedAt: Date.now(), error });
  }

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
        this.queue({ turn, facts, endedAt: Date.now(), error });
      },
    };
  }

  /** Hands every ended turn to the sinks now (readers, close and exit call it; normally the batch timer does). */
  flush(): void {
    if (this.scheduled) clearTimeout(this.scheduled);
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
