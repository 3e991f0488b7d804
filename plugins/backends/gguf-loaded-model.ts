/**
 * One GGUF model loaded in-process: the node-llama-cpp model, one context (kept between turns, so
 * a conversation's common prefix is not evaluated again; grown when a turn needs more), and a
 * lock so one generation at a time uses its single sequence. Unloading frees all of it.
 */
import type { ChatWrapper, LlamaContext, LlamaContextSequence, LlamaModel } from 'node-llama-cpp';
import { ErrorCodes, MaiError } from '../../core/errors.ts';

/** The smallest context made: contexts are reused while big enough, so turns rarely reallocate. */
const MIN_CONTEXT = 2048;

export class LoadedGguf {
  private context: LlamaContext | null = null;
  private sequence: LlamaContextSequence | null = null;
  private tail: Promise<void> = Promise.resolve();
  private disposed = false;
  /** Aborted when the model is unloaded, so a generation running then stops. */
  readonly unloading = new AbortController();
  /** The chat wrapper node-llama-cpp chose from the file's template (choosing it takes ~1 s, so once). */
  chatWrapper: ChatWrapper | null = null;

  constructor(
    readonly id: string,
    readonly file: string,
    readonly model: LlamaModel,
    private readonly threads: number,
  ) {}

  /** Waits for the model to be free; the returned function frees it again. */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const previous = this.tail;
    this.tail = previous.then(() => mine);
    if (signal) {
      let onAbort = () => {};
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => reject(signal.reason);
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      });
      try {
        await Promise.race([previous, aborted]);
      } catch (error) {
        // Give up our place without blocking the ones behind us.
        void previous.then(release);
        throw error;
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    } else {
      await previous;
    }
    if (this.disposed) {
      release();
      throw new MaiError(ErrorCodes.modelNotFound, `${this.id} was unloaded.`, { data: { model: this.id } });
    }
    return release;
  }

  /**
   * A sequence with room for `needed` tokens in a context of at most `limit`: the current context
   * when it is big enough (and within the limit), else a new one of the next power of two ≥ 2048.
   */
  async sequenceFor(needed: number, limit: number): Promise<LlamaContextSequence> {
    const current = this.context?.contextSize;
    if (this.sequence && !this.sequence.disposed && current !== undefined && current >= needed && current <= limit) return this.sequence;
    let contextSize = MIN_CONTEXT;
    while (contextSize < needed) contextSize *= 2;
    contextSize = Math.min(contextSize, limit);
    await this.disposeContext();
    try {
      this.context = await this.model.createContext({ contextSize, threads: this.threads, sequences: 1 });
    } catch (cause) {
      throw new MaiError(ErrorCodes.serverError, `${this.id} could not get a ${contextSize}-token context: ${(cause as Error).message}`, {
        cause,
        data: { model: this.id, contextSize },
      });
    }
    this.sequence = this.context.getSequence();
    return this.sequence;
  }

  get contextSize(): number | undefined {
    return this.context?.contextSize;
  }

  /** What node-llama-cpp assumes the model and its context hold in memory. */
  get memory(): { ram: number; vram: number } {
    const model = this.model.memoryUsage;
    const context = this.context?.memoryUsage ?? { ram: 0, vram: 0 };
    return { ram: model.ram + context.ram, vram: model.vram + context.vram };
  }

  private async disposeContext(): Promise<void> {
    const context = this.context;
    this.context = null;
    this.sequence = null;
    if (context && !context.disposed) await context.dispose();
  }

  /** Frees the context and the model, after the generation running now (if any) ends. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.unloading.abort(new MaiError(ErrorCodes.serverError, `${this.id} was unloaded while it was answering.`, { data: { model: this.id } }));
    await this.tail.catch(() => {});
    await this.disposeContext();
    if (!this.model.disposed) await this.model.dispose();
  }
}
