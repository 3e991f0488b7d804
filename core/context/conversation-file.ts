/**
 * The conversation file format, and reading it back. One JSON record per line:
 *   {"type":"meta","id":…,"createdAt":…}                  first line
 *   {"type":"message","turn":…,"message":{…}}              a message of a turn…
 *   {"type":"message","turn":…,"last":true,"message":{…}}  …the turn's last one
 *   {"type":"torn","at":…}                                 the line before was torn by a crash
 * Reading skips (and reports) a torn last line, a line a `torn` marker names, and a turn whose last
 * record never made it to disk; any other unreadable line is an error naming the file and line.
 * Message records without a `turn` (the first version of the format) are read as they are.
 */
import { Buffer } from 'node:buffer';
import { ErrorCodes, MaiError } from '../errors.ts';
import type { Conversation, StoredMessage } from './message.ts';

export type ConversationRecord =
  | { type: 'meta'; id: string; createdAt: string }
  | { type: 'message'; turn?: string; last?: true; message: StoredMessage }
  | { type: 'torn'; at: string };

/**
 * What one append writes: `prefix` (the end of a torn line and its marker, if any), the `head`
 * records (the meta header of a new file) and the turn's messages, each tagged with the turn's id
 * and the last one marked.
 */
export function encodeTurn(prefix: string, head: ConversationRecord[], turn: string, messages: ReadonlyArray<StoredMessage>): Buffer {
  const records = [...head];
  messages.forEach((message, i) => records.push({ type: 'message', turn, ...(i === messages.length - 1 ? { last: true } : {}), message }));
  return Buffer.from(prefix + records.map((r) => `${JSON.stringify(r)}\n`).join(''), 'utf8');
}

const ROLES = new Set(['system', 'user', 'assistant']);

function isMessage(value: unknown): value is StoredMessage {
  const m = value as Partial<StoredMessage> | null;
  return typeof m === 'object' && m !== null && typeof m.role === 'string' && ROLES.has(m.role) && typeof m.text === 'string' && typeof m.at === 'string';
}

function corrupt(file: string, line: number, why: string): MaiError {
  return new MaiError(
    ErrorCodes.conversationCorrupt,
    `${file}:${line}: ${why}, so the conversation cannot be read safely. Mai leaves the file as it is: fix or remove that line by hand.`,
    { data: { file, line } },
  );
}

export function parseConversation(id: string, file: string, text: string): Conversation {
  const lines = text.split('\n');
  const messages: StoredMessage[] = [];
  const warnings: string[] = [];
  let createdAt = '';
  let pending: { turn: string; line: number; messages: StoredMessage[] } | null = null;
  const dropPending = (why: string) => {
    if (!pending) return;
    warnings.push(`${file}:${pending.line}: skipped an unfinished turn (${pending.messages.length} message(s)) ${why}; earlier turns are intact.`);
    pending = null;
  };
  const nextRecord = (from: number) => lines.slice(from).find((l) => l.trim() !== '');

  for (const [index, line] of lines.entries()) {
    if (line.trim() === '') continue;
    const lineNo = index + 1;
    let record: ConversationRecord;
    try {
      record = JSON.parse(line) as ConversationRecord;
    } catch {
      const next = nextRecord(index + 1);
      let marked: boolean;
      try {
        marked = next !== undefined && (JSON.parse(next) as { type?: unknown }).type === 'torn';
      } catch {
        marked = false;
      }
      if (next === undefined || marked) {
        warnings.push(`${file}:${lineNo}: skipped a torn record (a crash during a write); earlier turns are intact.`);
        continue;
      }
      throw corrupt(file, lineNo, 'this line is not a valid record');
    }
    if (typeof record !== 'object' || record === null) throw corrupt(file, lineNo, 'this line is not a record');
    if (record.type === 'meta') {
      // Two processes racing to create one file may each write a header: the first one counts.
      if (!createdAt && typeof record.createdAt === 'string') createdAt = record.createdAt;
    } else if (record.type === 'torn') {
      continue;
    } else if (record.type === 'message') {
      if (!isMessage(record.message)) throw corrupt(file, lineNo, 'this message record has no valid role, text or time');
      if (record.turn === undefined) {
        dropPending('(it was cut short by a crash)');
        messages.push(record.message);
        continue;
      }
      if (pending && pending.turn !== record.turn) dropPending('(it was cut short by a crash)');
      pending ??= { turn: record.turn, line: lineNo, messages: [] };
      pending.messages.push(record.message);
      if (record.last) {
        messages.push(...pending.messages);
        pending = null;
      }
    } else {
      throw corrupt(file, lineNo, `unknown record type ${JSON.stringify((record as { type?: unknown }).type)}`);
    }
  }
  dropPending('at the end of the file (a crash during its write)');
  const updatedAt = messages.at(-1)?.at ?? createdAt;
  return { id, messages, createdAt: createdAt || updatedAt, updatedAt, warnings };
}
