/**
 * The load of an OpenAI-compatible server, read the way it publishes it:
 * - llama.cpp's llama-server: GET /props (`total_slots`, its -np), GET /slots (busy slots; needs
 *   --slots) and GET /metrics (needs --metrics: `llamacpp:requests_processing`,
 *   `llamacpp:requests_deferred`, `llamacpp:kv_cache_usage_ratio`);
 * - vLLM (alone or behind a gateway that forwards its metrics): GET /metrics
 *   (`vllm:num_requests_running`, `vllm:num_requests_waiting`, `vllm:kv_cache_usage_perc` or the
 *   older `vllm:gpu_cache_usage_perc`);
 * - SGLang: GET /metrics (`sglang:num_running_reqs`, `sglang:num_queue_reqs`, `sglang:token_usage`).
 * A continuously batching server publishes no slot count: it is taken to run `batchSlots` at
 * once (the backend's option), and its own queue shows as waiting.
 */
import type { LoadProbeRequest, ServerLoad } from '../../../core/types.ts';
import { fetchBounded, fetchJson, ProbeHttpError } from './bounded-fetch.ts';
import { highest, parseMetrics, publishes, total, type MetricValues } from './prometheus.ts';

export interface OpenAICompatibleProbeOptions {
  /** The server's origin (http://host:port), without /v1. */
  origin: string;
  headers: Readonly<Record<string, string>>;
  /** Ask llama.cpp's /props and /slots (off when the backend's llamaCppExtras is off). */
  llamaCpp: boolean;
  /** Slots assumed for a server that batches continuously and does not say (vLLM, SGLang). */
  batchSlots: number;
}

const missing = (error: unknown) => error instanceof ProbeHttpError && error.missing;

export function openAICompatibleProbe(options: OpenAICompatibleProbeOptions): (request: LoadProbeRequest) => Promise<ServerLoad> {
  let llamaCpp = options.llamaCpp;
  let maxBytes = 1_048_576; // set by each probe (the load board runs one at a time per backend)
  const get = (path: string, signal: AbortSignal) => fetchBounded(`${options.origin}${path}`, { signal, maxBytes, headers: options.headers });
  const getJson = <T>(path: string, signal: AbortSignal) => fetchJson<T>(`${options.origin}${path}`, { signal, maxBytes, headers: options.headers });

  async function metrics(signal: AbortSignal, notes: string[]): Promise<MetricValues | null> {
    try {
      return parseMetrics(await get('/metrics', signal));
    } catch (error) {
      if (signal.aborted) throw error;
      notes.push(missing(error) ? 'no /metrics (llama.cpp needs --metrics, SGLang --enable-metrics)' : (error as Error).message);
      return null;
    }
  }

  async function fromLlamaCpp(totalSlots: number, signal: AbortSignal): Promise<ServerLoad> {
    const notes: string[] = [];
    const sources = ['llama.cpp /props'];
    const [slots, page] = await Promise.all([
      getJson<Array<{ is_processing?: unknown; state?: unknown }>>('/slots', signal).catch((error: unknown) => {
        if (signal.aborted) throw error;
        notes.push(missing(error) ? 'no /slots (start llama-server with --slots)' : (error as Error).message);
        return null;
      }),
      metrics(signal, notes),
    ]);
    let busy: number | null = null;
    if (Array.isArray(slots)) {
      busy = slots.filter((s) => s?.is_processing === true || s?.state === 1).length;
      sources.push('/slots');
    }
    const processing = page ? total(page, 'llamacpp:requests_processing') : null;
    const deferred = page ? total(page, 'llamacpp:requests_deferred') : null;
    if (page && (processing !== null || deferred !== null)) sources.push('/metrics');
    else if (page) notes.push('/metrics has no llamacpp: figures');
    return {
      slots: totalSlots,
      running: processing ?? busy,
      waiting: deferred,
      kvUsage: page ? highest(page, 'llamacpp:kv_cache_usage_ratio') : null,
      source: sources.join(' + '),
      notes,
    };
  }

  return async function probe(request) {
    const { signal } = request;
    maxBytes = request.maxBytes;
    if (llamaCpp) {
      try {
        const props = await getJson<{ total_slots?: unknown }>('/props', signal);
        if (typeof props.total_slots === 'number') return await fromLlamaCpp(props.total_slots, signal);
      } catch (error) {
        if (signal.aborted) throw error;
        if (missing(error)) llamaCpp = false; // not llama.cpp: its /metrics alone from now on
        else throw error;
      }
    }
    const notes: string[] = [];
    const page = await metrics(signal, notes);
    if (!page) throw new Error(notes.join('; '));
    if (publishes(page, 'vllm:')) {
      return {
        slots: options.batchSlots,
        running: total(page, 'vllm:num_requests_running'),
        waiting: total(page, 'vllm:num_requests_waiting'),
        kvUsage: highest(page, 'vllm:kv_cache_usage_perc', 'vllm:gpu_cache_usage_perc'),
        source: 'vLLM /metrics',
        notes: [`publishes no slot count: ${options.batchSlots} assumed (the backend's batchSlots)`],
      };
    }
    if (publishes(page, 'sglang:')) {
      return {
        slots: options.batchSlots,
        running: total(page, 'sglang:num_running_reqs'),
        waiting: total(page, 'sglang:num_queue_reqs'),
        kvUsage: highest(page, 'sglang:token_usage'),
        source: 'SGLang /metrics',
        notes: [`publishes no slot count: ${options.batchSlots} assumed (the backend's batchSlots)`],
      };
    }
    if (publishes(page, 'llamacpp:')) {
      return {
        slots: null,
        running: total(page, 'llamacpp:requests_processing'),
        waiting: total(page, 'llamacpp:requests_deferred'),
        kvUsage: highest(page, 'llamacpp:kv_cache_usage_ratio'),
        source: 'llama.cpp /metrics',
        notes,
      };
    }
    throw new Error('/metrics publishes no figure Mai reads (vllm:, sglang: or llamacpp: metrics)');
  };
}
