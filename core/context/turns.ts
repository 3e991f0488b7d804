/**
 * A conversation as turns: each turn starts at a user message and holds the replies after it.
 * Spans of whole turns from the start are what gets summarised; each has a content key (a hash
 * chain over its messages), so the same span is recognised — and its summary reused — across
 * turns, models and restarts.
 */
import { createHash } from 'node:crypto';
import type { StoredMessage } from './message.ts';

/** Messages [start, end) of the conversation (system messages excluded). */
export interface TurnRange {
  start: number;
  end: number;
}

/** Splits messages into turns; messages before the first user message form a turn of their own. */
export function splitTurns(messages: ReadonlyArray<StoredMessage>): TurnRange[] {
  const turns: TurnRange[] = [];
  for (let i = 0; i < messages.length; i++) {
    if (i === 0 || messages[i]!.role === 'user') turns.push({ start: i, end: i + 1 });
    else turns[turns.length - 1]!.end = i + 1;
  }
  return turns;
}

/** keys[k] identifies the span of the first k turns (keys[0] is the empty span). */
export function spanKeys(messages: ReadonlyArray<StoredMessage>, turns: ReadonlyArray<TurnRange>): string[] {
  const keys = [''];
  let hash = '';
  for (const turn of turns) {
    const h = createHash('sha256').update(hash);
    for (const m of messages.slice(turn.start, turn.end)) h.update(`${m.role}\u0000${m.text}\u0000`);
    hash = h.digest('base64url').slice(0, 32);
    keys.push(hash);
  }
  return keys;
}
