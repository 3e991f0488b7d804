/**
 * A conversation file's bytes as text, with nothing lost quietly: a file of zero bytes (its turns
 * were never written, or a crash cut it) and bytes that are not UTF-8 (they read as U+FFFD) are
 * told in warnings, which conversations/get returns with the conversation.
 */
import type { Buffer } from 'node:buffer';

const strict = new TextDecoder('utf-8', { fatal: true });
const lenient = new TextDecoder('utf-8');

/** The lines (1-based) whose bytes are not valid UTF-8. */
function invalidLines(bytes: Buffer): number[] {
  const out: number[] = [];
  let start = 0;
  let line = 1;
  while (start <= bytes.length) {
    let end = bytes.indexOf(0x0a, start);
    if (end === -1) end = bytes.length;
    try {
      strict.decode(bytes.subarray(start, end));
    } catch {
      out.push(line);
    }
    start = end + 1;
    line++;
  }
  return out;
}

export function decodeConversation(file: string, bytes: Buffer): { text: string; warnings: string[] } {
  if (bytes.length === 0) {
    return { text: '', warnings: [`${file} is empty (0 bytes): it holds no turn, not even its header: its first turn is still being answered, or a crash (or a disk problem) came before it was stored.`] };
  }
  try {
    return { text: strict.decode(bytes), warnings: [] };
  } catch {
    const lines = invalidLines(bytes);
    const shown = lines.slice(0, 10).join(', ') + (lines.length > 10 ? ` and ${lines.length - 10} more` : '');
    return {
      text: lenient.decode(bytes),
      warnings: [`${file}: line(s) ${shown} hold bytes that are not UTF-8; they read as U+FFFD (\uFFFD), so that text is not as it was written.`],
    };
  }
}
