/**
 * Turns Ollama's listings into BackendModels: /api/tags says what is on disk (size,
 * quantization), /api/ps what is loaded (memory, VRAM), /api/show the window, the capabilities
 * and the architecture. Models that cannot chat (embedding-only) are left out.
 */
import type { BackendModel, Capability, ModelArchitecture } from '../../core/types.ts';
import type { OllamaRunning, OllamaShow, OllamaTag } from './ollama-api.ts';

/** Ollama's capability names → Mai's. */
const capabilityMap: Readonly<Record<string, Capability>> = {
  completion: 'chat',
  tools: 'tools',
  vision: 'vision',
  thinking: 'reasoning',
};

const positive = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : undefined);

/** The model_info key `<architecture>.<suffix>` (e.g. llama.context_length). */
function archValue(show: OllamaShow, suffix: string): number | undefined {
  const info = show.model_info ?? {};
  const arch = info['general.architecture'];
  if (typeof arch === 'string') {
    const direct = positive(info[`${arch}.${suffix}`]);
    if (direct !== undefined) return direct;
  }
  const key = Object.keys(info).find((k) => k.endsWith(`.${suffix}`));
  return key === undefined ? undefined : positive(info[key]);
}

export function architectureOf(show: OllamaShow): ModelArchitecture | undefined {
  const arch: ModelArchitecture = {};
  const layers = archValue(show, 'block_count');
  const heads = archValue(show, 'attention.head_count');
  const kvHeads = archValue(show, 'attention.head_count_kv');
  const embeddingSize = archValue(show, 'embedding_length');
  if (layers) arch.layers = layers;
  if (heads) arch.heads = heads;
  if (kvHeads) arch.kvHeads = kvHeads;
  if (embeddingSize) arch.embeddingSize = embeddingSize;
  return Object.keys(arch).length > 0 ? arch : undefined;
}

export function capabilitiesOf(show: OllamaShow | undefined): Capability[] | undefined {
  if (!show?.capabilities) return undefined;
  const mapped = show.capabilities.map((c) => capabilityMap[c]).filter((c): c is Capability => c !== undefined);
  return [...new Set(mapped)];
}

/** False for models Ollama says cannot generate (embedding models). */
export function canChat(show: OllamaShow | undefined): boolean {
  return !show?.capabilities || show.capabilities.includes('completion');
}

/** `sha256:<hex>` from /api/tags' digest (bare hex, or already prefixed); undefined when it is not one. */
export function ollamaDigestOf(digest: string | undefined): string | undefined {
  const hex = digest?.trim().toLowerCase().replace(/^sha256[:-]/, '');
  return hex && /^[0-9a-f]{12,64}$/.test(hex) ? `sha256:${hex}` : undefined;
}

export interface MergeInput {
  tags: readonly OllamaTag[];
  running: readonly OllamaRunning[];
  shows: ReadonlyMap<string, OllamaShow>;
  /** The largest window Mai may ask Ollama for (num_ctx costs memory as it grows). */
  maxContextLength: number;
}

export function mergeOllamaModels(input: MergeInput): BackendModel[] {
  const running = new Map<string, OllamaRunning>();
  for (const r of input.running) running.set(r.name, r).set(r.model ?? r.name, r);
  const out: BackendModel[] = [];
  for (const tag of input.tags) {
    const show = input.shows.get(tag.name);
    if (!canChat(show)) continue;
    const live = running.get(tag.name) ?? (tag.model ? running.get(tag.model) : undefined);
    const trained = show ? archValue(show, 'context_length') : undefined;
    const window = trained ?? positive(live?.context_length);
    const contextLength = window === undefined ? undefined : Math.min(window, input.maxContextLength);
    const capabilities = capabilitiesOf(show);
    const architecture = show ? architectureOf(show) : undefined;
    const quantization = tag.details?.quantization_level ?? show?.details?.quantization_level;
    const model: BackendModel = { id: tag.name, loaded: live !== undefined };
    if (contextLength) model.contextLength = contextLength;
    if (positive(tag.size)) model.sizeBytes = tag.size!;
    if (quantization) model.quantization = quantization;
    if (capabilities && capabilities.length > 0) model.capabilities = capabilities;
    if (architecture) model.architecture = { kvBytesPerElement: 2, ...architecture };
    if (live && positive(live.size)) model.memoryBytes = live.size!;
    if (live && typeof live.size_vram === 'number') model.vramBytes = live.size_vram;
    // The manifest's digest names the weights whatever the tag: the same digest on two Ollama
    // servers (pulled or `ollama cp`-ed under other names) is one model with two replicas.
    const digest = ollamaDigestOf(tag.digest);
    if (digest) model.artifact = digest;
    out.push(model);
  }
  return out;
}
