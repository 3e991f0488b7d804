/**
 * LM Studio's model listings as its docs give them, and their mapping to BackendModels:
 * GET /api/v1/models (LM Studio ≥ 0.4: loaded instances with their context length,
 * max_context_length, quantization, size_bytes, capabilities) and the older GET /api/v0/models
 * (state: loaded | not-loaded). Embedding models are left out: they cannot chat.
 */
import type { BackendModel, Capability } from '../../core/types.ts';

/** One entry of GET /api/v1/models. */
export interface LmsV1Model {
  type?: string;
  publisher?: string;
  key: string;
  display_name?: string;
  architecture?: string | null;
  quantization?: { name?: string | null; bits_per_weight?: number | null } | null;
  size_bytes?: number;
  params_string?: string | null;
  loaded_instances?: Array<{ id: string; config?: { context_length?: number } }>;
  max_context_length?: number;
  format?: string | null;
  capabilities?: { vision?: boolean; trained_for_tool_use?: boolean };
}

/** One entry of GET /api/v0/models. */
export interface LmsV0Model {
  id: string;
  object?: string;
  type?: string;
  publisher?: string;
  arch?: string;
  compatibility_type?: string;
  quantization?: string;
  state?: string;
  max_context_length?: number;
  capabilities?: string[];
}

/** POST /api/v1/models/load's answer (`instance_id` now; `model_instance_id` in the first 0.4 builds). */
export interface LmsLoadResponse {
  type?: string;
  instance_id?: string;
  model_instance_id?: string;
  load_time_seconds?: number;
  status?: string;
}

const positive = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : undefined);
const isEmbedding = (type: string | undefined) => type === 'embedding' || type === 'embeddings';

/** What one v1 listing tells the backend besides the models: the loaded instances of each. */
export interface V1Listing {
  models: BackendModel[];
  instances: Map<string, string[]>;
}

export function fromV1(models: readonly LmsV1Model[], maxContextLength: number): V1Listing {
  const instances = new Map<string, string[]>();
  const out: BackendModel[] = [];
  for (const m of models) {
    if (typeof m?.key !== 'string' || isEmbedding(m.type)) continue;
    const loaded = (m.loaded_instances ?? []).filter((i) => typeof i?.id === 'string');
    instances.set(m.key, loaded.map((i) => i.id));
    // A loaded instance answers with the window it was loaded with; else Mai loads it with its own.
    const loadedContext = loaded.map((i) => positive(i.config?.context_length)).find((c) => c !== undefined);
    const maxContext = positive(m.max_context_length);
    const contextLength = loadedContext ?? (maxContext === undefined ? undefined : Math.min(maxContext, maxContextLength));
    const capabilities: Capability[] = ['chat'];
    if (m.capabilities?.vision) capabilities.push('vision');
    if (m.capabilities?.trained_for_tool_use) capabilities.push('tools');
    const model: BackendModel = { id: m.key, loaded: loaded.length > 0, capabilities };
    if (contextLength) model.contextLength = contextLength;
    if (positive(m.size_bytes)) model.sizeBytes = m.size_bytes!;
    if (m.quantization?.name) model.quantization = m.quantization.name;
    out.push(model);
  }
  return { models: out, instances };
}

export function fromV0(models: readonly LmsV0Model[], maxContextLength: number): BackendModel[] {
  const out: BackendModel[] = [];
  for (const m of models) {
    if (typeof m?.id !== 'string' || isEmbedding(m.type)) continue;
    const capabilities: Capability[] = ['chat'];
    if (m.type === 'vlm') capabilities.push('vision');
    if (m.capabilities?.includes('tool_use')) capabilities.push('tools');
    const maxContext = positive(m.max_context_length);
    const model: BackendModel = { id: m.id, loaded: m.state === 'loaded', capabilities };
    if (maxContext) model.contextLength = Math.min(maxContext, maxContextLength);
    if (m.quantization) model.quantization = m.quantization;
    out.push(model);
  }
  return out;
}
