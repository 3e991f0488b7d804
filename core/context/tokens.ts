/**
 * Token counting without a tokenizer: a fast estimate with a safety margin, used when the backend
 * cannot count. One pass over the text, costing each kind of piece the way byte-pair tokenizers
 * spend on it: an English word part is about one token, a CJK character more than one, a Cyrillic
 * letter about half, digits go in threes, punctuation runs merge. The weights are fitted to the
 * upper edge of cl100k/o200k counts and then raised by SAFETY, so the estimate errs high; its error
 * against real tokenizers is measured in test/context-tokens.test.ts and stated in the README.
 */
import type { ChatMessage } from '../types.ts';

/** Tokens a chat template adds around each message (role markers, separators). */
export const PER_MESSAGE_OVERHEAD = 4;
/** The estimate's safety margin over the fitted weights. */
export const SAFETY = 1.1;

/** Cost per piece, before SAFETY. */
const W = {
  /** An ASCII word part (a camelCase part counts as its own): one token… */
  wordPart: 1,
  /** …plus this per letter beyond six. */
  longLetter: 0.4,
  /** Latin letters with diacritics break words apart. */
  latinExtended: 2,
  /** Greek, Cyrillic, Armenian, Hebrew, Arabic letters. */
  alphabetic: 0.5,
  cjk: 1.4,
  hangul: 1.1,
  /** Indic, Thai, Ethiopic and other scripts byte-level vocabularies barely cover. */
  rareScript: 2,
  /** A group of up to three digits. */
  digitGroup: 1.5,
  newlineRun: 0.5,
  /** Two or more spaces or tabs (indentation). */
  spaceRun: 1.5,
  punctuation: 0.25,
  punctuationRun: 0.5,
  symbol: 1.6,
  /** Emoji and other characters outside the Basic Multilingual Plane. */
  astral: 2.5,
} as const;

/** What the scanner is in the middle of. */
const Kind = { None: 0, Word: 1, Digits: 2, Newlines: 3, Spaces: 4, Punctuation: 5 } as const;
type Kind = (typeof Kind)[keyof typeof Kind];

/** The cost of one non-ASCII code point, and whether it belongs to a word. */
function nonAscii(cp: number): [cost: number, letter: boolean] {
  if (cp < 0xc0) return [W.symbol, false];
  if (cp < 0x370) return cp === 0xd7 || cp === 0xf7 ? [W.symbol, false] : [W.latinExtended, true];
  if (cp < 0x900) return [W.alphabetic, true];
  if (cp < 0x1e00) return [W.rareScript, true];
  if (cp < 0x1f00) return [W.latinExtended, true];
  if (cp < 0x2000) return [W.alphabetic, true];
  if (cp < 0x2e80) return [W.symbol, false];
  if (cp < 0xa000) return [W.cjk, true];
  if (cp < 0xac00) return [W.rareScript, true];
  if (cp < 0xd800) return [W.hangul, true];
  if (cp < 0xf900) return [W.symbol, false];
  if (cp < 0xfb00) return [W.cjk, true];
  if (cp < 0xfe00) return [W.alphabetic, true];
  if (cp < 0x10000) return [W.symbol, false];
  return [W.astral, false];
}

/** Estimated tokens of `text`, erring high. */
export function estimateTokens(text: string): number {
  let total = 0;
  let kind: Kind = Kind.None;
  let run = 0; // letters in the current ASCII word part, or digits in the current run
  let lastLower = false;
  const endPart = () => {
    if (kind === Kind.Word && run > 0) total += W.wordPart + W.longLetter * Math.max(0, run - 6);
    else if (kind === Kind.Digits) total += W.digitGroup * Math.ceil(run / 3);
    run = 0;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      const upper = c >= 65 && c <= 90;
      const lower = c >= 97 && c <= 122;
      if (upper || lower) {
        if (kind !== Kind.Word) {
          endPart();
          kind = Kind.Word;
        } else if (upper && lastLower) {
          endPart(); // a camelCase boundary starts a new part
        }
        run++;
        lastLower = lower;
        continue;
      }
      lastLower = false;
      if (c >= 48 && c <= 57) {
        if (kind !== Kind.Digits) {
          endPart();
          kind = Kind.Digits;
        }
        run++;
      } else if (c === 10 || c === 13) {
        if (kind !== Kind.Newlines) {
          endPart();
          kind = Kind.Newlines;
          total += W.newlineRun;
        }
      } else if (c === 32 || c === 9) {
        if (kind !== Kind.Spaces) {
          endPart();
          kind = Kind.Spaces;
          run = 0;
        }
        if (++run === 2) total += W.spaceRun;
      } else {
        if (kind !== Kind.Punctuation) {
          endPart();
          kind = Kind.Punctuation;
          total += W.punctuationRun;
        }
        total += W.punctuation;
      }
      continue;
    }
    lastLower = false;
    let cp = c;
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < text.length) {
      const low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low < 0xe000) {
        cp = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
        i++;
      }
    }
    const [cost, letter] = nonAscii(cp);
    if (letter) {
      // A non-ASCII letter joins the word it is in; it ends the ASCII part before it.
      if (kind !== Kind.Word) {
        endPart();
        kind = Kind.Word;
      }
    } else if (kind !== Kind.Punctuation) {
      endPart();
      kind = Kind.Punctuation;
      total += W.punctuationRun;
    }
    total += cost;
  }
  endPart();
  return Math.ceil(total * SAFETY);
}

export function estimateMessages(messages: ReadonlyArray<ChatMessage>): number {
  let total = 0;
  for (const m of messages) total += estimateTokens(m.content) + PER_MESSAGE_OVERHEAD;
  return total;
}

/** Cuts `text` (at a word where it can) to at most `maxTokens` by the estimate. */
export function fitTokens(text: string, maxTokens: number): string {
  if (estimateTokens(text) <= maxTokens) return text;
  let low = 0;
  let high = text.length;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (estimateTokens(`${text.slice(0, mid)}…`) <= maxTokens) low = mid;
    else high = mid - 1;
  }
  if (low > 0 && /[\uD800-\uDBFF]/.test(text[low - 1]!)) low--; // never split a surrogate pair
  const cut = text.slice(0, low);
  const space = cut.lastIndexOf(' ');
  return `${space > low * 0.8 ? cut.slice(0, space) : cut}…`;
}
