/**
 * What must survive compression: standing instructions are recognised (and ordinary uses of
 * "always"/"never" are not), a long message keeps only its instruction sentences, and the digest
 * keeps the facts the user stated within its allowance.
 */
import { describe, expect, it } from 'vitest';
import { digest } from '../core/context/digest.ts';
import { markInstructions, permanentText, standingInstructions } from '../core/context/instructions.ts';
import type { StoredMessage } from '../core/context/message.ts';
import { estimateTokens } from '../core/context/tokens.ts';

const at = '2025-01-01T00:00:00.000Z';

describe('standing instructions', () => {
  it.each([
    'Always answer in French.',
    'always answer in french',
    'Please never use emoji in your answers.',
    'You should always cite the file you are quoting.',
    'From now on, use metric units.',
    'For the rest of this conversation, call me Ada.',
    'Keep your answers under 100 words in every reply.',
    "Don't ever apologise.",
    'Thanks. Make sure to always show the command before its output.',
    'I want you to never guess an API: say you do not know.',
  ])('recognises "%s"', (text) => {
    expect(standingInstructions(text)).not.toBeNull();
    expect(markInstructions({ role: 'user', text, at }).permanent).toBe(true);
  });

  it.each([
    'Why is the sky always blue?',
    'Never mind, what is 2 + 2?',
    'I always forget how git rebase works.',
    'It never worked on Windows.',
    'Always the same error: ENOENT.',
    'Has this ever happened before?',
    'Write a function that returns the sum of two numbers.',
  ])('does not take "%s" for one', (text) => {
    expect(standingInstructions(text)).toBeNull();
    expect(markInstructions({ role: 'user', text, at })).toEqual({ role: 'user', text, at });
  });

  it('keeps only the instruction of a long message, so the rest can be compressed', () => {
    const text = `${'Here is the stack trace and the code around it. '.repeat(20)}From now on, answer with a diff only. What is wrong?`;
    const marked = markInstructions({ role: 'user', text, at });
    expect(marked.permanent).toBeUndefined();
    expect(marked.instruction).toBe('From now on, answer with a diff only.');
    expect(permanentText(marked)).toBe('From now on, answer with a diff only.');
  });

  it('never marks what the assistant said', () => {
    const m: StoredMessage = { role: 'assistant', text: 'Always check the return value.', at };
    expect(markInstructions(m)).toBe(m);
  });
});

describe('the rule-based digest', () => {
  const filler = 'I hope this helps, and let me know if anything else comes up along the way. ';
  const history: StoredMessage[] = [
    { role: 'user', text: 'Hi there!', at },
    { role: 'assistant', text: `Hello! ${filler.repeat(3)}`, at, model: 'small' },
    { role: 'user', text: 'My name is Ada and I maintain the parser in src/parser.ts. We target Node 20.', at },
    { role: 'assistant', text: `Great, Ada. ${filler.repeat(4)}`, at, model: 'small' },
    { role: 'user', text: 'The bug: parseHeader returns NaN for lengths above 65535. Can you find why?', at },
    { role: 'assistant', text: `The length is read as a 16-bit integer in readUint16, so it wraps. ${filler.repeat(4)}`, at, model: 'small' },
  ];

  it('keeps the facts the user stated and the conclusions, drops filler, within its allowance', () => {
    const text = digest(history, 80);
    expect(estimateTokens(text)).toBeLessThanOrEqual(80);
    expect(text).toContain('My name is Ada');
    expect(text).toContain('src/parser.ts');
    expect(text).toContain('65535');
    expect(text).not.toContain('I hope this helps');
    // In the conversation's order, labelled by who said it.
    expect(text.indexOf('My name is Ada')).toBeLessThan(text.indexOf('65535'));
    expect(text.split('\n')[0]).toMatch(/^User: /);
  });

  it('shrinks to what fits, and to nothing when nothing does', () => {
    expect(estimateTokens(digest(history, 30))).toBeLessThanOrEqual(30);
    expect(digest(history, 2)).toBe('');
  });

  it('replaces code blocks by their size', () => {
    const text = digest([{ role: 'user', text: 'Look at this:\n```ts\nconst a = 1;\nconst b = 2;\n```\nWhy does it fail?', at }], 100);
    expect(text).toContain('[code, 3 lines]');
    expect(text).not.toContain('const a');
  });
});
