/**
 * The domain types every part of Mai shares: messages, models, backends, scorers and resources.
 * Config-shaped types (Tier, Capability, …) come from the config schema, never written twice.
 */
import type { Capability, Tier } from './config/schema.ts';
import type { MaiError } from './errors.ts';

export type { Capability, Tier };

export type Role = 'system' | 'user' | 'assistant';

/** A message as sent to a model. */
export interface ChatMessage {
  role: Role;
  content: string;
}

/** What is known of a model's architecture, for memory estimates (from GGUF metadata or a backend). */
export interface ModelArchitecture {
  layers?: number;
  heads?: number;
  kvHeads?: number;
  embeddingSize?: number;
  /** Bytes per element of the KV cache (2 for f16). */
  kvBytesPerElement?: number;
}

/** A model as a backend reports it, before config metadata is merged in. */
export interface BackendModel {
  id: string;
  loaded: boolean;
  contextLength?: number;
  sizeBytes?: number;
  quantization?: string;
  capabilities?: Capability[];
  tier?: Tier;
  architecture?: ModelArchitecture;
  /** Memory the backend says the loaded model holds (RAM + VRAM), when it says. */
  memoryBytes?: number;
  vramBytes?: number;
  /** The model server whose store this file lives in ('ollama', 'lmstudio'), when a backend found it there. */
  storeOf?: string;
  /** A demo model (random weights): listed only while no real model exists. */
  demo?: boolean;
  /** Why this model cannot run here at all (a missing runtime or permission, and the fix); never tried while set. */
  unavailable?: string;
  /** What names the weights (a GGUF's basename, an Ollama manifest's `sha256:` digest), when known: the same on two servers makes them replicas. */
  artifact?: string;
}

/** One server that can answer for a catalogue model. */
export interface Replica {
  backend: string;
  backendModelId: string;
  loaded: boolean;
  /** Where the backend runs: 'local' (this machine) or the remote host's name. */
  host: string;
  local: boolean;
}

/** A model in Mai's catalogue: what a backend reports merged with the config's metadata. */
export interface CatalogModel {
  /** Unique in the catalogue: the backend's id, or `backend/id` where two backends share an id. */
  id: string;
  /** The id the backend knows it by. */
  backendModelId: string;
  backend: string;
  loaded: boolean;
  contextLength: number;
  sizeBytes: number | undefined;
  quantization: string | undefined;
  tier: Tier;
  capabilities: Capability[];
  architecture: ModelArchitecture | undefined;
  memoryBytes: number | undefined;
  vramBytes: number | undefined;
  minMemoryBytes: number | undefined;
  minVramBytes: number | undefined;
  priority: number;
  /** Where its (first) backend runs; absent means this machine. */
  host?: string;
  /** False for a model served by another machine: judged by its server's load, never by local memory. */
  local?: boolean;
  /** Every server that answers for this model (the same id, the same GGUF, or `replicaOf`), when more than one. */
  replicas?: Replica[];
  /** Why it cannot run here at all (its backend's runtime is missing or not permitted): vetoed, never tried. */
  unavailable?: string;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
}

/** Why an answer ended; the protocol's and MCP's schemas list these values from here. */
export const FINISH_REASONS = ['stop', 'length', 'cancelled', 'error'] as const;
export type FinishReason = (typeof FINISH_REASONS)[number];

/** One piece of a streamed answer. */
export type ChatChunk =
  | { type: 'delta'; text: string }
  | { type: 'done'; finishReason: FinishReason; usage?: Usage };

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  maxTokens?: number;
  temperature?: number;
  /** The context window Mai budgeted for this turn (Ollama's num_ctx, gguf's context size). */
  contextSize?: number;
  /** The prompt's size as Mai counted it, so a backend can detect silent truncation. */
  promptTokens?: number;
  signal: AbortSignal;
}

export interface BackendHealth {
  reachable: boolean;
  error?: string;
}

/** One place models live (LM Studio, Ollama, an OpenAI-compatible server, GGUF files). */
export interface Backend {
  readonly name: string;
  /**
   * The model store this backend is the native server of ('ollama', 'lmstudio'). While it is
   * reachable, the catalogue leaves it the models other backends found in that store (`storeOf`),
   * so a model is not listed twice nor loaded twice.
   */
  readonly serves?: string;
  /** Every model this backend can run. Throws MaiError('unreachable') when it cannot be reached. */
  listModels(signal?: AbortSignal): Promise<BackendModel[]>;
  /** Streams a completion. Errors are MaiErrors of the kinds in core/errors.ts. Must end with a `done` chunk. */
  chat(request: ChatRequest): AsyncIterable<ChatChunk>;
  countTokens?(model: string, text: string, signal?: AbortSignal): Promise<number>;
  load?(model: string, options?: { contextSize?: number; signal?: AbortSignal }): Promise<void>;
  unload?(model: string, signal?: AbortSignal): Promise<void>;
  health?(signal?: AbortSignal): Promise<BackendHealth>;
  /**
   * Why none of this backend's models can run in this process (a runtime that is not installed,
   * a permission Deno was not given), with the fix; undefined when they can. Asked after each
   * listing: the models stay listed, as unavailable, and `status` shows the backend as not usable.
   */
  unusable?(): string | undefined;
  close?(): Promise<void>;
  /** The server's address (its baseURL), for telling a local backend from a remote one. Absent: in-process. */
  readonly endpoint?: string;
  /**
   * The load the server itself reports (slots, running, waiting, KV use). Called off the turn
   * path, on an interval, with a timeout signal; throws when the server says nothing usable.
   */
  probeLoad?(request: LoadProbeRequest): Promise<ServerLoad>;
}

/** A load probe's bounds: its deadline (the signal) and the largest answer it may read. */
export interface LoadProbeRequest {
  signal: AbortSignal;
  maxBytes: number;
}

/** What a model server says about its own load (null where it does not say). */
export interface ServerLoad {
  /** Requests it runs at once (llama.cpp total_slots, vLLM max_num_seqs when published). */
  slots: number | null;
  running: number | null;
  waiting: number | null;
  /** KV cache in use, 0..1. */
  kvUsage: number | null;
  /** Where the figures came from, e.g. "llama.cpp /props + /slots + /metrics". */
  source: string;
  /** Models the server has loaded now, when it says (Ollama /api/ps, LM Studio). */
  loadedModels?: string[];
  /** What could not be read or was not believed, in words (shown by `mai status`). */
  notes?: string[];
}

export interface GpuSnapshot {
  name: string;
  vramTotalBytes: number | null;
  vramFreeBytes: number | null;
}

/** What a backend says one loaded model holds (null where it does not say). */
export interface LoadedModelMemory {
  model: string;
  backend: string;
  memoryBytes: number | null;
  vramBytes: number | null;
}

/** How the smoothed metrics move, per second, over the monitor's trend window (null: too few samples). */
export interface ResourceTrend {
  cpuLoadPerSecond: number | null;
  memFreeBytesPerSecond: number | null;
  samples: number;
}

/** The machine's resources as last sampled (numbers are smoothed; null where unknown). */
export interface ResourceSnapshot {
  cpuLoad: number | null;
  memFreeBytes: number | null;
  memTotalBytes: number | null;
  gpus: GpuSnapshot[];
  sampledAt: number;
  /** What each backend says is loaded, and the memory it holds. */
  loaded?: LoadedModelMemory[];
  trend?: ResourceTrend;
  /** Metrics that could not be read, and why (they are null above). */
  unavailable?: string[];
}

/** What a turn needs from a model, known before one is chosen. */
export interface TurnNeeds {
  capabilities: Capability[];
  /** Tokens the conversation needs in the prompt, at the least (permanent messages + latest turn). */
  minPromptTokens: number;
  /** Tokens the whole conversation would take uncompressed. */
  fullPromptTokens: number;
  replyTokens: number;
}

/** What a scorer sees about one candidate. */
export interface ScoreInput {
  model: CatalogModel;
  catalog: readonly CatalogModel[];
  resources: ResourceSnapshot;
  needs: TurnNeeds;
  current: string | null;
  now: number;
}

/** A scorer's verdict: a score in [0, 1], or a veto with the reason. */
export interface Score {
  score: number;
  veto?: string;
  reason?: string;
}

/** Rates candidates for a turn. Scorers are plugins; weights come from config. */
export interface Scorer {
  readonly name: string;
  score(input: ScoreInput): Score;
  /** Called after every attempt, so scorers that learn (latency, reliability) can. */
  observe?(event: AttemptEvent): void;
}

export interface AttemptEvent {
  model: string;
  ok: boolean;
  error?: MaiError;
  timeToFirstTokenMs?: number;
  tokensPerSecond?: number;
  /** How long the attempt took, start to last token. */
  durationMs?: number;
  at: number;
}
