/**
 * The schema of mai.config.yaml: the single source of truth for what the config may say.
 * The TypeScript types are inferred from it, never written twice.
 */
import { lazySchema, z } from '../zod.ts';
import { Capability } from './capability.ts';
import { defaultMaxMessageBytes } from './message-limit.ts';
import { isLoopbackHost } from './loopback.ts';

export const tiers = ['small', 'medium', 'large'] as const;
export const Tier = z.enum(tiers);
export type Tier = z.infer<typeof Tier>;

export { Capability, capabilities } from './capability.ts';

const positiveInt = z.number().int().positive();
const nonNegative = z.number().min(0);
const share = z.number().min(0).max(1);
const nonEmpty = z.string().min(1);

/** One plugin named by the config: a built-in name, a relative path to a module, or an npm package. */
export const PluginRef = z.strictObject({
  use: nonEmpty.describe('a built-in name, a relative path to a module (./x.js), or an npm package'),
  name: nonEmpty.optional().describe('instance name; defaults to `use`'),
  enabled: z.boolean().default(true),
  options: z.record(z.string(), z.unknown()).default({}),
});

/** A backend: a plugin, and where it runs. (PluginRef's keys spread into one strict object: one schema built, not three.) */
export const BackendRef = z.strictObject({
  ...PluginRef.shape,
  host: nonEmpty
    .optional()
    .describe('where the server runs: "local" (this machine) or the host\'s name; default: loopback and unix-socket addresses are local, any other remote'),
});

export const ScorerRef = z.strictObject({
  ...PluginRef.shape,
  weight: nonNegative.default(1).describe('how much this scorer counts in the weighted sum'),
});

/**
 * Metadata that overrides (or adds to) what backends report about a model. Built when a config has
 * `models:` (lazySchema): a config that lists none defaults to `[]` without it.
 */
export const ModelMeta = lazySchema(() =>
  z.strictObject({
    id: nonEmpty,
    backend: nonEmpty.optional().describe('backend instance name, when an id exists on several'),
    tier: Tier.optional(),
    capabilities: z.array(Capability).optional(),
    contextLength: positiveInt.optional(),
    minMemoryGb: nonNegative.optional(),
    minVramGb: nonNegative.optional(),
    priority: z.number().optional().describe('higher is preferred among equals'),
    replicaOf: nonEmpty.optional().describe('this model (on `backend`) is another server of the model with this id'),
  }),
);

export const FallbackConfig = z.strictObject({
  chains: z.record(z.string(), z.array(nonEmpty)).default({}),
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
    .describe('turns one model answers at once when its server does not say (llama.cpp says its slots; Ollama and vLLM may not)'),
});

export const LoadConfig = z.strictObject({
  intervalMs: positiveInt.default(2_000).describe('how often each server is asked for its load'),
  timeoutMs: positiveInt.default(1_500).describe('how long one server may take to answer'),
  staleMs: positiveInt.default(10_000).describe('figures older than this are dropped: the model is then of unknown load'),
  maxSlots: positiveInt.default(64).describe('the most slots a server is believed to have'),
  maxBytes: positiveInt.default(1_048_576).describe('the largest /metrics (or /slots) answer read'),
});

export const MonitorConfig = z.strictObject({
  enabled: z.boolean().default(true),
  intervalMs: positiveInt.default(2_000),
  smoothing: share.default(0.3).describe('EWMA weight of the newest sample'),
  trendWindow: positiveInt.default(10),
  sampleTimeoutMs: positiveInt.default(1_500),
  gpu: z.boolean().default(true),
});

/** When a written turn is fsynced: right behind its reply, or before it. The default is stated here only. */
export const FsyncMode = z.enum(['after-reply', 'before-reply']);
export type FsyncMode = z.infer<typeof FsyncMode>;
export const DEFAULT_FSYNC: FsyncMode = 'after-reply';

export const ContextConfig = z.strictObject({
  stateDir: nonEmpty.optional().describe('defaults to $XDG_STATE_HOME/mai'),
  compressAt: share.default(0.7),
  replyTokens: positiveInt.default(512),
  marginTokens: nonNegative.default(32),
  keepRecentTurns: positiveInt.default(2),
  summary: z.enum(['auto', 'model', 'digest']).default('auto'),
  summaryTokens: positiveInt.default(400).describe('the most a summary of older turns may take'),
  summaryTimeoutMs: positiveInt.default(20_000).describe('how long a model may take to write a summary before the digest is used'),
  fsync: FsyncMode.default(DEFAULT_FSYNC)
    .describe('a turn is always written to its file before its reply; after-reply fsyncs it right behind the reply, before-reply holds the reply for the fsync'),
});

export const SwitchingConfig = z.strictObject({
  margin: nonNegative.default(0.1).describe('a challenger must beat the current model by this much'),
  minDwellMs: nonNegative.default(30_000),
  slowReplyMs: positiveInt.default(20_000),
  memoryHighShare: share.default(0.9),
  cpuHighShare: share.default(0.95),
  preload: z.boolean().default(true),
  unloadWaitMs: nonNegative.default(5_000),
});

export const ReloadConfig = z.strictObject({
  allow: z
    .array(nonEmpty)
    .default([])
    .describe('config files a client may name in config/reload besides this one (relative to this file); none by default'),
});

export const HostConfig = z.strictObject({
  idleExitMs: nonNegative
    .default(300_000)
    .describe('the shared host (rpc/host/) exits after this long with no client connected; 0 exits as soon as the last one leaves (never before its first client came: it waits up to 60 s for it)'),
  helloTimeoutMs: positiveInt.default(10_000).describe('a connection to the host that sends nothing for this long is closed'),
});

export const ServerConfig = z.strictObject({
  maxMessageBytes: positiveInt
    .default(defaultMaxMessageBytes)
    .describe('the largest JSON-RPC message read (bytes); a larger one is answered -32700 and skipped'),
});

export const LedgerConfig = z.strictObject({
  enabled: z.boolean().default(true).describe('one JSON line per finished, failed or cancelled turn, in <stateDir>/ledger'),
  maxFileMb: z.number().min(0.001).default(16).describe('the ledger file is rotated past this size'),
  maxFiles: z.number().int().min(1).max(100).default(5).describe('files kept: ledger.jsonl and the rotated ledger.1.jsonl …'),
  content: z.boolean().default(false).describe("also write each turn's message and answer (off: the ledger holds no text of a conversation)"),
});

/** Built when a config sets `metrics.listen` (lazySchema): its default, null, needs no schema. */
export const MetricsListen = lazySchema(() =>
  z.strictObject({
    host: z
      .string()
      .default('127.0.0.1')
      .refine(isLoopbackHost, {
        message:
          'expected a loopback address (127.0.0.1, ::1 or localhost): the metrics listener never takes connections from other machines; for those, let node_exporter read metrics.textfile',
      }),
    port: z.number().int().min(0).max(65535),
  }),
);

export const MetricsConfig = z.strictObject({
  textfile: nonEmpty.nullable().default(null).describe("a .prom file rewritten atomically for node_exporter's textfile collector (off: null)"),
  textfileIntervalMs: positiveInt.default(15_000),
  listen: MetricsListen.nullable().default(null).describe('an HTTP listener for /metrics on loopback (off: null)'),
});

/**
 * The backends a config that leaves out `backends:` gets: the four mai.config.yaml documents.
 * `backends: []` means none.
 */
export const DEFAULT_BACKENDS: ReadonlyArray<z.input<typeof BackendRef>> = [
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
  { use: 'load', weight: 1, options: { maxQueue: 4 } },
];

/**
 * A section a config leaves out is its schema's parse of `{}`, made when a config leaves it out (a
 * default given as a function): not at module load for every section, which each `mai` launch paid
 * for the sections its config does write, and a fresh object each time rather than one shared
 * (zod copies a value default only shallowly: `fallback.chains` was one object for every parse).
 */
export const MaiConfig = z.strictObject({
  backends: z.array(BackendRef).default(() => DEFAULT_BACKENDS.map((b) => BackendRef.parse(b))),
  scorers: z.array(ScorerRef).default(() => DEFAULT_SCORERS.map((s) => ScorerRef.parse(s))),
  models: z.array(ModelMeta).default([]),
  fallback: FallbackConfig.default(() => FallbackConfig.parse({})),
  monitor: MonitorConfig.default(() => MonitorConfig.parse({})),
  load: LoadConfig.default(() => LoadConfig.parse({})),
  context: ContextConfig.default(() => ContextConfig.parse({})),
  switching: SwitchingConfig.default(() => SwitchingConfig.parse({})),
  reload: ReloadConfig.default(() => ReloadConfig.parse({})),
  host: HostConfig.default(() => HostConfig.parse({})),
  server: ServerConfig.default(() => ServerConfig.parse({})),
  ledger: LedgerConfig.default(() => LedgerConfig.parse({})),
  metrics: MetricsConfig.default(() => MetricsConfig.parse({})),
});

export type PluginRef = z.infer<typeof PluginRef>;
export type ScorerRef = z.infer<typeof ScorerRef>;
export type BackendRef = z.infer<typeof BackendRef>;
export type LoadConfig = z.infer<typeof LoadConfig>;
export type ModelMeta = z.infer<typeof ModelMeta>;
export type FallbackConfig = z.infer<typeof FallbackConfig>;
export type MonitorConfig = z.infer<typeof MonitorConfig>;
export type ContextConfig = z.infer<typeof ContextConfig>;
export type SwitchingConfig = z.infer<typeof SwitchingConfig>;
export type ReloadConfig = z.infer<typeof ReloadConfig>;
export type HostConfig = z.infer<typeof HostConfig>;
export type ServerConfig = z.infer<typeof ServerConfig>;
export type LedgerConfig = z.infer<typeof LedgerConfig>;
export type MetricsConfig = z.infer<typeof MetricsConfig>;
export type MaiConfig = z.infer<typeof MaiConfig>;
/** What a config file may say before defaults are filled in. */
export type MaiConfigInput = z.input<typeof MaiConfig>;
