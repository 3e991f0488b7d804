/** Helpers the backend suites share: drain a chat stream into what it yielded and how it ended. */
import { MaiError } from '../../core/errors.ts';
import type { Backend, ChatChunk, ChatRequest } from '../../core/types.ts';

export interface Drained {
  deltas: string[];
  done: Extract<ChatChunk, { type: 'done' }> | undefined;
  error: MaiError | undefined;
}

/** Runs one chat to its end (or its error), keeping every chunk. */
export async function drain(backend: Backend, request: Omit<ChatRequest, 'signal'> & { signal?: AbortSignal }, onDelta?: (text: string) => void): Promise<Drained> {
  const deltas: string[] = [];
  let done: Drained['done'];
  try {
    for await (const chunk of backend.chat({ ...request, signal: request.signal ?? new AbortController().signal })) {
      if (chunk.type === 'delta') {
        deltas.push(chunk.text);
        onDelta?.(chunk.text);
      } else done = chunk;
    }
    return { deltas, done, error: undefined };
  } catch (error) {
    if (!(error instanceof MaiError)) throw error;
    return { deltas, done, error };
  }
}

/** The MaiError a promise rejects with (fails the test if it resolves or throws something else). */
export async function failure(promise: Promise<unknown>): Promise<MaiError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof MaiError) return error;
    throw error;
  }
  throw new Error('expected a MaiError, but the call succeeded');
}

/** Waits until `check` is true (polling), failing after `ms`. */
export async function until(check: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
