/**
 * `mai batch` input: one prompt a line — plain text, or a JSON object {id?, prompt,
 * conversationId?, model?}. A line that cannot be a prompt becomes a failed item, never the end
 * of the batch. Blank lines are skipped; an item's id defaults to its line number.
 */
import { z } from '../../core/zod.ts';

export const BatchLine = z.strictObject({
  id: z.union([z.string(), z.number()]).optional(),
  prompt: z.string().min(1, 'the prompt is empty'),
  conversationId: z.string().min(1).optional(),
  model: z.string().min(1).optional(),
});
export type BatchLine = z.infer<typeof BatchLine>;

export type BatchItem =
  | { id: string | number; ok: true; line: BatchLine }
  | { id: string | number; ok: false; message: string };

export function parseBatchLine(text: string, lineNumber: number): BatchItem {
  if (!text.startsWith('{')) return { id: lineNumber, ok: true, line: { prompt: text } };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { id: lineNumber, ok: false, message: `line ${lineNumber} starts with "{" but is not valid JSON (${(error as Error).message}); write {"prompt": "..."} or plain text.` };
  }
  const parsed = BatchLine.safeParse(value);
  if (!parsed.success) {
    const rawId = (value as { id?: unknown }).id;
    const id = typeof rawId === 'string' || typeof rawId === 'number' ? rawId : lineNumber;
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(line)'}: ${i.message}`).join('; ');
    return { id, ok: false, message: `line ${lineNumber}: ${problems}. Each JSON line is {"id"?, "prompt", "conversationId"?, "model"?}.` };
  }
  return { id: parsed.data.id ?? lineNumber, ok: true, line: parsed.data };
}

export function parseBatch(text: string): BatchItem[] {
  const items: BatchItem[] = [];
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line !== '') items.push(parseBatchLine(line, index + 1));
  }
  return items;
}
