/**
 * The rule-based summary, used when no model is free to write one (or it fails): a digest of the
 * older turns that keeps what matters most within a token allowance. Sentences are scored — what
 * the user said outranks what the assistant said; facts the user stated about themselves or their
 * work, numbers, names, identifiers and file names, questions and each message's opening sentence
 * score higher; later turns a little higher — and the best ones are kept, in their original order.
 */
import type { StoredMessage } from './message.ts';
import { estimateTokens } from './tokens.ts';

const MAX_SENTENCE_CHARS = 220;
const FENCE = /```[\s\S]*?(```|$)/g;
const FIRST_PERSON = /\b(I|I'm|I am|I've|my|mine|we|we're|our|us)\b/;
const NUMBER = /\d/;
const IDENTIFIER = /`[^`]+`|\b[a-z]+[A-Z]\w*\b|\b\w+_\w+\b|\b[\w-]+\.(ts|js|py|rs|go|json|ya?ml|md|toml|c|h|cpp|java|rb|sh)\b|\b[A-Z][a-z]+[A-Z]\w*\b/;
const NAME = /(?<=\w[^.!?]*\s)[A-Z][a-z]{2,}/;

interface Candidate {
  message: number;
  order: number;
  text: string;
  score: number;
  cost: number;
}

function sentencesOf(text: string): string[] {
  const withoutCode = text.replace(FENCE, (block) => `[code, ${block.split('\n').length - 1} lines] `);
  return withoutCode
    .split(/(?<=[.!?])\s+|\n+/)
    .map((s) => s.replace(/\s+/g, ' ').trim())
    .filter((s) => s.length > 1)
    .map((s) => (s.length > MAX_SENTENCE_CHARS ? `${s.slice(0, MAX_SENTENCE_CHARS - 1)}…` : s));
}

function score(sentence: string, role: StoredMessage['role'], first: boolean, recency: number): number {
  let s = role === 'user' ? 2 : 1;
  if (role === 'user' && FIRST_PERSON.test(sentence)) s += 2;
  if (NUMBER.test(sentence)) s += 1;
  if (IDENTIFIER.test(sentence) || NAME.test(sentence)) s += 1;
  if (role === 'user' && sentence.endsWith('?')) s += 1;
  if (first) s += 1.5;
  return s + recency;
}

function label(m: StoredMessage): string {
  if (m.role === 'user') return 'User';
  return m.model ? `Assistant (${m.model})` : 'Assistant';
}

/** A digest of `messages` in at most `maxTokens` tokens (by `count`, the estimate by default). */
export function digest(messages: ReadonlyArray<StoredMessage>, maxTokens: number, count: (text: string) => number = estimateTokens): string {
  const candidates: Candidate[] = [];
  messages.forEach((m, index) => {
    if (m.role === 'system') return;
    const recency = messages.length > 1 ? index / (messages.length - 1) : 1;
    sentencesOf(m.text).forEach((text, i) => {
      candidates.push({ message: index, order: i, text, score: score(text, m.role, i === 0, recency), cost: count(text) + 1 });
    });
  });
  // Each message's label costs a few tokens the first time one of its sentences is kept.
  const labelCost = (m: number) => count(`${label(messages[m]!)}: `) + 1;
  const kept = new Set<Candidate>();
  const labelled = new Set<number>();
  let used = 0;
  for (const c of [...candidates].sort((a, b) => b.score - a.score || b.message - a.message || a.order - b.order)) {
    const cost = c.cost + (labelled.has(c.message) ? 0 : labelCost(c.message));
    if (used + cost > maxTokens) continue;
    used += cost;
    kept.add(c);
    labelled.add(c.message);
  }
  const lines: string[] = [];
  let current = -1;
  for (const c of candidates) {
    if (!kept.has(c)) continue;
    if (c.message !== current) {
      lines.push(`${label(messages[c.message]!)}: ${c.text}`);
      current = c.message;
    } else {
      lines[lines.length - 1] += ` ${c.text}`;
    }
  }
  return lines.join('\n');
}
