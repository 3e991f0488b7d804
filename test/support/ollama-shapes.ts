/**
 * The shapes the Ollama test server answers with, as Ollama's API docs give them: a model's
 * `details`, its /api/show body, and the prompt accounting Ollama does (a real BPE tokenizer,
 * gpt-tokenizer's cl100k — close to Llama 3's, and the one the context tests load anyway — plus
 * 4 tokens a message for the chat template; older messages dropped until the prompt fits num_ctx,
 * then the runner cuts it to the window).
 */
import { countTokens } from 'gpt-tokenizer/encoding/cl100k_base';

export type OllamaBehaviour =
  | { kind: 'ok' }
  | { kind: 'status'; status: number; error: string; retryAfter?: string }
  | { kind: 'hang' }
  | { kind: 'cut'; afterChunks: number }
  | { kind: 'stream-error'; afterChunks: number; error: string }
  /** The stream ends cleanly without its `done: true` line. */
  | { kind: 'no-done' };

export interface FakeOllamaModel {
  name: string;
  /** The manifest digest /api/tags and /api/ps give (default: derived from the name). */
  digest?: string;
  family?: string;
  sizeBytes?: number;
  sizeVram?: number;
  quantization?: string;
  parameterSize?: string;
  /** model_info `<family>.context_length`. */
  contextLength?: number;
  /** /api/show capabilities (default ['completion']). */
  capabilities?: string[];
  architecture?: { layers: number; heads: number; kvHeads: number; embedding: number };
  loaded?: boolean;
  /** Set by the server: the num_ctx the loaded model runs with (reported by /api/ps). */
  runningContext?: number;
  reply?: string | ((messages: Array<{ role: string; content: string }>) => string);
  chunks?: number;
  chunkDelayMs?: number;
  /** A model that is not loaded takes this long before its first line (Ollama loads it first). */
  loadDelayMs?: number;
  behaviour?: OllamaBehaviour;
  queue?: OllamaBehaviour[];
}

export const ollamaDetails = (m: FakeOllamaModel) => ({
  parent_model: '',
  format: 'gguf',
  family: m.family ?? 'llama',
  families: [m.family ?? 'llama'],
  parameter_size: m.parameterSize ?? '1B',
  quantization_level: m.quantization ?? 'Q4_K_M',
});

export const ollamaDigest = (m: FakeOllamaModel) => m.digest ?? Buffer.from(m.name).toString('hex').padEnd(64, '0').slice(0, 64);

/** The body of POST /api/show for a model. */
export function ollamaShowBody(model: FakeOllamaModel): Record<string, unknown> {
  const family = model.family ?? 'llama';
  const arch = model.architecture;
  return {
    modelfile: `FROM /root/.ollama/models/blobs/sha256-${ollamaDigest(model)}`,
    parameters: 'stop "<|eot_id|>"',
    template: '{{ .Prompt }}',
    details: ollamaDetails(model),
    model_info: {
      'general.architecture': family,
      'general.parameter_count': 1_000_000_000,
      ...(model.contextLength ? { [`${family}.context_length`]: model.contextLength } : {}),
      ...(arch
        ? {
            [`${family}.block_count`]: arch.layers,
            [`${family}.attention.head_count`]: arch.heads,
            [`${family}.attention.head_count_kv`]: arch.kvHeads,
            [`${family}.embedding_length`]: arch.embedding,
          }
        : {}),
    },
    capabilities: model.capabilities ?? ['completion'],
    modified_at: new Date().toISOString(),
  };
}

export const ollamaTokens = (content: string) => countTokens(content) + 4;

/** Ollama's chatPrompt: keep system messages and the latest, drop the oldest others until it fits; then the runner cuts to num_ctx. */
export function truncatePrompt(messages: Array<{ role: string; content: string }>, numCtx: number): number {
  const kept = [...messages];
  const total = () => kept.reduce((n, m) => n + ollamaTokens(m.content), 0);
  while (total() > numCtx) {
    const oldest = kept.findIndex((m, i) => m.role !== 'system' && i < kept.length - 1);
    if (oldest === -1) break;
    kept.splice(oldest, 1);
  }
  return Math.min(total(), numCtx);
}
