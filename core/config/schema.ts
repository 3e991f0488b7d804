/**
 * The schema of mai.config.yaml: the single source of truth for what the config may say.
 * The TypeScript types are inferred from it, never written twice.
 */
import { z } from 'zod';

export const tiers = ['small', 'medium', 'large'] as const;
export const Tier = z.enum(tiers);
export type Tier = z.infer<typeof Tier>;

export const capabilities = ['chat', 'code', 'reasoning', 'vision', 'tools'] as const;
export const Capability = z.enum(capabilities);
export type Capability = z.infer<typeof Capability>;

const positiveInt = z.number().int().positive();
const nonNegative = z.number().min(0);
const share = z.number().min(0).max(1);

/** One plugin named by the config: a built-in name, a relative path to a module, or an npm package. */
export const PluginRef = z
  .object({
    use: z.string().min(1).describe('a built-in name, a relative path to a module (./x.js), or an npm package'),
    name: z.string().min(1).optional().describe('instance name; defaults to `use`'),
    enabled: z.boolean().default(true),
    options: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

export const ScorerRef = PluginRef.extend({
  weight: nonNegative.default(1).describe('how much this scorer counts in the weighted sum'),
}).strict();

/** Metadata that overrides (or adds to) what backends report about a model. */
export const ModelMeta = z
  .object({
    id: z.string().min(1),
    backend: z.string().min(1).optional().describe('backend instance name, when an id exists on several'),
    tier: Tier.optional(),
    capabilities: z.array(Capability).optional(),
    contextLength: positiveInt.optional(),
    minMemoryGb: nonNegative.optional(),
    minVramGb: nonNegative.optional(),
    priority: z.number().optional().describe('higher is preferred among equals'),
  })
  .strict();

export const FallbackConfig = z
  .object({
    chains: z.record(z.string(), z.array(z.string().min(1))).default({}),
    auto: z.boolean().default(true).describe('after a chain runs out, try every other fitting model, most capable first'),
    retries: z.number().int().min(0).max(10).default(1),
    backoffMs: nonNegative.default(200),
    retryAfterCapMs: nonNegative.default(5_000),
    cooldownMs: nonNegative.default(60_000),
    failuresBeforeCooldown: positiveInt.default(3),
    failureWindowMs: positiveInt.default(60_000),
    firstTokenTimeoutMs: positiveInt.default(30_000),
    loadingFirstTokenTimeoutMs: positiveInt.default(120_000),
    totalTimeoutMs: positiveInt.default(600_000),
    stallTimeoutMs: positiveInt
      .default(30_000)
      .describe('once a reply streams, the longest wait for its next token before the turn moves to the next model (restart)'),
    queueLimit: positiveInt.default(16),
    parallelPerModel: positiveInt
      .default(1)
      .describe('turns one model answers at once; raise it to what its server serves in parallel (llama.cpp --parallel, OLLAMA_NUM_PARALLEL, vLLM)'),
  })
  .strict();

export const MonitorConfig = z
  .object({
    enabled: z.boolean().default(true),
    intervalMs: positiveInt.default(2_000),
    smoothing: share.default(0.3).describe('EWMA weight of the newest sample'),
    trendWindow: positiveInt.default(10),
    sampleTimeoutMs: positiveInt.default(1_500),
    gpu: z.boolean().default(true),
  })
  .strict();

/** When a written turn is fsynced: right behind its reply, or before it. The default is stated here only. */
export const FsyncMode = z.enum(['after-reply', 'before-reply']);
export type FsyncMode = z.infer<typeof FsyncMode>;
export const DEFAULT_FSYNC: FsyncMode = 'after-reply';

export const ContextConfig = z
  .object({
    stateDir: z.string().min(1).optional().describe('defaults to $XDG_STATE_HOME/mai'),
    compressAt: share.default(0.7),
    replyTokens: positiveInt.default(512),
    marginTokens: nonNegative.default(32),
    keepRecentTurns: positiveInt.default(2),
    summary: z.enum(['auto', 'model', 'digest']).default('auto'),
    summaryTokens: positiveInt.default(400).describe('the most a summary of older turns may take'),
    summaryTimeoutMs: positiveInt.default(20_000).describe('how long a model may take to write a summary before the digest is used'),
    fsync: FsyncMode.default(DEFAULT_FSYNC)
      .describe('a turn is always written to its file before its reply; after-reply fsyncs it right behind the reply, before-reply holds the reply for the fsync'),
  })
  .strict();

export const SwitchingConfig = z
  .object({
    margin: nonNegative.default(0.1).describe('a challenger must beat the current model by this much'),
    minDwellMs: nonNegative.default(30_000),
    slowReplyMs: positiveInt.default(20_000),
    memoryHighShare: share.default(0.9),
    cpuHighShare: share.default(0.95),
    preload: z.boolean().default(true),
    unloadWaitMs: nonNegative.default(5_000),
  })
  .strict();

export const ReloadConfig = z
  .object({
    allow: z
      .array(z.string().min(1))
      .default([])
      .describe('config files a client may name in config/reload besides this one (relative to this file); none by default'),
  })
  .strict();

/**
 * The backends a config that leaves out `backends:` gets: the four mai.config.yaml documents.
 * `backends: []` means none.
 */
export const DEFAULT_BACKENDS: ReadonlyArray<z.input<typeof PluginRef>> = [
  { use: 'gguf', options: { folders: ['./models'], threads: 1 } },
  { use: 'ollama', options: { baseURL: 'http://127.0.0.1:11434' } },
  { use: 'lmstudio', options: { baseURL: 'http://127.0.0.1:1234', startServer: false } },
  { use: 'openai', options: { baseURL: 'http://127.0.0.1:8080/v1' } },
];

/**
 * The scorers a config that leaves out `scorers:` gets: the set mai.config.yaml documents (a key
 * left out means the documented default, not none — without them no model is ever vetoed for
 * memory, window or capability). `scorers: []` turns them all off.
 */
export const DEFAULT_SCORERS: ReadonlyArray<z.input<typeof ScorerRef>> = [
  { use: 'resource-fit', weight: 3 },
  { use: 'context-fit', weight: 1 },
  { use: 'capability', weight: 1 },
  { use: 'reliability', weight: 2 },
  { use: 'latency', weight: 1 },
];

export const MaiConfig = z
  .object({
    backends: z.array(PluginRef).default(() => DEFAULT_BACKENDS.map((b) => PluginRef.parse(b))),
    scorers: z.array(ScorerRef).default(() => DEFAULT_SCORERS.map((s) => ScorerRef.parse(s))),
    models: z.array(ModelMeta).default([]),
    fallback: FallbackConfig.default(FallbackConfig.parse({})),
    monitor: MonitorConfig.default(MonitorConfig.parse({})),
    context: ContextConfig.default(ContextConfig.parse({})),
    switching: SwitchingConfig.default(SwitchingConfig.parse({})),
    reload: ReloadConfig.default(ReloadConfig.parse({})),
  })
  .strict();

export type PluginRef = z.infer<typeof PluginRef>;
export type ScorerRef = z.infer<typeof ScorerRef>;
export type ModelMeta = z.infer<typeof ModelMeta>;
export type FallbackConfig = z.infer<typeof FallbackConfig>;
export type MonitorConfig = z.infer<typeof MonitorConfig>;
export type ContextConfig = z.infer<typeof ContextConfig>;
export type SwitchingConfig = z.infer<typeof SwitchingConfig>;
export type ReloadConfig = z.infer<typeof ReloadConfig>;
export type MaiConfig = z.infer<typeof MaiConfig>;
/** What a config file may say before defaults are filled in. */
export type MaiConfigInput = z.input<typeof MaiConfig>;
