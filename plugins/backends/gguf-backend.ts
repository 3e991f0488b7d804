/**
 * The gguf backend (gguf.ts defines the plugin; this module is imported when a config names it):
 * GGUF model files run in-process through node-llama-cpp (an optional dependency).
 * Lists the `.gguf` files in the configured folders, LM Studio's model folders and Ollama's blobs
 * with what their headers say (context length, size, quantization, architecture); loads a model
 * on its first turn and unloads it on request; streams answers with the model's chat template.
 * Without node-llama-cpp (or, under Deno, without the permissions it needs) its files are listed as
 * unavailable, saying how to install it or which flag to add; they are never tried; Mai keeps working.
 */
import { stat } from 'node:fs/promises';
import { ErrorCodes, MaiError } from '../../core/errors.ts';
import type { Logger } from '../../core/log.ts';
import type { Backend, BackendHealth, BackendModel, ChatChunk, ChatRequest } from '../../core/types.ts';
import { generate } from './gguf-chat.ts';
import { defaultRoots, discoverGguf, expandPath, type DiscoveredGguf, type GgufRoots } from './gguf-discovery.ts';
import { LoadedGguf } from './gguf-loaded-model.ts';
import { SharedLoads } from './gguf-shared-load.ts';
import { architectureOf, readGgufModelInfo, type GgufModelInfo } from './gguf-metadata.ts';
import type { GgufBackendOptions } from './gguf-options.ts';
import { LlamaRuntime } from './gguf-runtime.ts';

/** The context a load() prepares: enough for most turns, far less than a 128k window would take. */
const PRELOAD_CONTEXT = 4096;

interface Known {
  model: DiscoveredGguf;
  info: GgufModelInfo;
}

export class GgufBackend implements Backend {
  private readonly runtime: LlamaRuntime;
  private readonly roots: GgufRoots;
  private known = new Map<string, Known>();
  /** Header reads, by file and what its stat said when it was read. */
  private infoCache = new Map<string, { key: string; info: GgufModelInfo }>();
  private loaded = new Map<string, Promise<LoadedGguf>>();
  private readonly loads = new SharedLoads<LoadedGguf>({
    cancelled: (id, cause) => new MaiError(ErrorCodes.cancelled, `Loading ${id} was cancelled.`, { cause, retryable: false, data: { backend: this.name, model: id } }),
    abandoned: (id, load) => {
      if (this.loaded.get(id) === load) this.loaded.delete(id);
    },
  });
  private vocabularies = new Map<string, Promise<import('node-llama-cpp').LlamaModel>>();
  private reported = new Set<string>();
  private readonly log: Logger;

  constructor(
    readonly name: string,
    private readonly options: GgufBackendOptions,
    context: { baseDir: string; env: Readonly<Record<string, string | undefined>>; log: Logger },
  ) {
    this.log = context.log;
    const defaults = defaultRoots(context.env);
    const expand = (paths: readonly string[]) => paths.map((p) => expandPath(p, context.baseDir));
    this.roots = {
      folders: expand(options.folders),
      lmStudio: expand(options.lmStudioFolders ?? defaults.lmStudio),
      ollama: expand(options.ollamaFolders ?? defaults.ollama),
    };
    this.runtime = new LlamaRuntime({ moduleName: options.moduleName, searchFrom: [context.baseDir], gpu: options.gpu, log: this.log });
  }

  private warnOnce(message: string): void {
    if (this.reported.has(message)) return;
    this.reported.add(message);
    this.log.warn(message);
  }

  private async infoOf(file: string): Promise<GgufModelInfo> {
    const s = await stat(file);
    const key = `${s.size}:${s.mtimeMs}`;
    const cached = this.infoCache.get(file);
    if (cached?.key === key) return cached.info;
    const info = await readGgufModelInfo(file);
    this.infoCache.set(file, { key, info });
    return info;
  }

  /** Finds the models on disk again and reads their headers (cached while a file is unchanged). */
  private async scan(): Promise<Map<string, Known>> {
    const { models, problems } = await discoverGguf(this.roots);
    for (const problem of problems) this.warnOnce(`${this.name}: ${problem}`);
    const known = new Map<string, Known>();
    for (const model of models) {
      try {
        const info = { ...(await this.infoOf(model.file)) };
        if (model.parts.length > 1) {
          const sizes = await Promise.all(model.parts.map((p) => stat(p).then((s) => s.size)));
          info.sizeBytes = sizes.reduce((a, b) => a + b, 0);
        }
        known.set(model.id, { model, info });
      } catch (error) {
        this.warnOnce(`${this.name}: skipping ${model.file}: ${(error as Error).message}`);
      }
    }
    this.known = known;
    return known;
  }

  /** Its files are listed even when node-llama-cpp cannot run here; `unusable` says why (the catalogue marks them). */
  async listModels(): Promise<BackendModel[]> {
    const known = await this.scan();
    const out: BackendModel[] = [];
    for (const [id, { info, model }] of known) {
      const loaded = await this.loaded.get(id)?.catch(() => undefined);
      const memory = loaded?.memory;
      out.push({
        id,
        loaded: loaded !== undefined,
        sizeBytes: info.sizeBytes,
        architecture: architectureOf(info),
        ...(info.contextLength ? { contextLength: info.contextLength } : {}),
        ...(info.quantization ? { quantization: info.quantization } : {}),
        ...(memory ? { memoryBytes: memory.ram + memory.vram, vramBytes: memory.vram } : {}),
        ...(model.source === 'folder' ? {} : { storeOf: model.source }),
        ...(info.demo ? { demo: true } : {}),
        ...(info.tier ? { tier: info.tier } : {}),
      });
    }
    return out;
  }

  private async find(id: string): Promise<Known> {
    const found = this.known.get(id) ?? (await this.scan()).get(id);
    if (found) return found;
    throw new MaiError(ErrorCodes.modelNotFound, `${this.name} has no model "${id}" (it looks in ${[...this.roots.folders].join(', ')}).`, {
      data: { backend: this.name, model: id },
    });
  }

  /** The model, loaded on first use; concurrent callers share one load, cancelled only once none of them waits (gguf-shared-load.ts). */
  private ensureLoaded(id: string, signal?: AbortSignal): Promise<LoadedGguf> {
    let loading = this.loaded.get(id);
    if (!loading) {
      const started = this.loads.start(id, (loadSignal) => this.loadModel(id, loadSignal));
      loading = started;
      this.loaded.set(id, started);
      started.catch(() => {
        if (this.loaded.get(id) === started) this.loaded.delete(id);
      });
    }
    return this.loads.join(id, loading, signal);
  }

  private async loadModel(id: string, signal: AbortSignal): Promise<LoadedGguf> {
    const { model } = await this.find(id);
    const started = performance.now();
    const llamaModel = await this.runtime.loadModel(model.file, { signal });
    const loaded = new LoadedGguf(id, model.file, llamaModel, this.options.threads);
    // Matching the file's template to a chat wrapper takes node-llama-cpp ~1 s (synchronously):
    // done once, as part of loading (which preloading absorbs), not in a turn.
    const { resolveChatWrapper } = await this.runtime.nodeLlamaCpp();
    loaded.chatWrapper = resolveChatWrapper(llamaModel);
    this.log.info(`${this.name}: loaded ${id} in ${Math.round(performance.now() - started)} ms (${loaded.chatWrapper.wrapperName} chat format)`);
    return loaded;
  }

  async *chat(request: ChatRequest): AsyncIterable<ChatChunk> {
    const loaded = await this.ensureLoaded(request.model, request.signal);
    const { LlamaChat, resolveChatWrapper } = await this.runtime.nodeLlamaCpp();
    yield* generate(loaded, request, {
      LlamaChat,
      resolveChatWrapper,
      backend: this.name,
      temperature: this.options.temperature,
      ...(this.options.seed === undefined ? {} : { seed: this.options.seed }),
    });
  }

  /** Tokens by the model's own tokenizer (its vocabulary alone is loaded when the model is not). */
  async countTokens(model: string, text: string): Promise<number> {
    const loaded = await this.loaded.get(model)?.catch(() => undefined);
    let tokenizer = loaded?.model;
    if (!tokenizer) {
      let vocabulary = this.vocabularies.get(model);
      if (!vocabulary) {
        vocabulary = this.find(model).then(({ model: m }) => this.runtime.loadModel(m.file, { vocabOnly: true }));
        this.vocabularies.set(model, vocabulary);
        vocabulary.catch(() => this.vocabularies.delete(model));
      }
      tokenizer = await vocabulary;
    }
    return tokenizer.tokenize(text).length;
  }

  async load(model: string, options: { contextSize?: number; signal?: AbortSignal } = {}): Promise<void> {
    const loaded = await this.ensureLoaded(model, options.signal);
    if (options.contextSize) {
      const release = await loaded.acquire(options.signal);
      try {
        // Room for a first turn; a turn that needs more grows it (within its own budget).
        await loaded.sequenceFor(Math.min(options.contextSize, PRELOAD_CONTEXT), options.contextSize);
      } finally {
        release();
      }
    }
  }

  async unload(model: string): Promise<void> {
    const loading = this.loaded.get(model);
    this.loaded.delete(model);
    const loaded = await loading?.catch(() => undefined);
    await loaded?.dispose();
  }

  /** Why node-llama-cpp cannot run here (its message names it and the fix), or undefined. */
  unusable(): string | undefined {
    return this.runtime.cannotRun();
  }

  async health(): Promise<BackendHealth> {
    const why = this.unusable();
    return why === undefined ? { reachable: true } : { reachable: false, error: why };
  }

  async close(): Promise<void> {
    const all = [...this.loaded.keys()];
    await Promise.all(all.map((id) => this.unload(id)));
    const vocabularies = [...this.vocabularies.values()];
    this.vocabularies.clear();
    await Promise.all(vocabularies.map((v) => v.then((m) => m.dispose()).catch(() => {})));
    await this.runtime.close();
  }
}
