/**
 * node-llama-cpp, loaded only when a GGUF model is used. It is an optional dependency: when it is
 * missing, or its native library will not load (Deno without --allow-ffi, or a platform without a
 * prebuilt binary), every call says so — with the command that installs it — and the rest of Mai works.
 * Never downloads or builds anything at run time (build: 'never', skipDownload).
 */
import { createRequire } from 'node:module';
import { join, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Llama, LlamaModel } from 'node-llama-cpp';
import { ErrorCodes, MaiError } from '../../core/errors.ts';
import { deniedBecause, denoExecPath } from '../../core/permissions.js';
import type { Logger } from '../../core/log.ts';

export type NodeLlamaCpp = typeof import('node-llama-cpp');

export const NODE_LLAMA_CPP_VERSION = '3.21.1';
export const INSTALL_COMMAND = `npm install node-llama-cpp@${NODE_LLAMA_CPP_VERSION}`;
/**
 * Builds llama.cpp for this machine when no prebuilt binary of node-llama-cpp loads here (node-llama-cpp's own CLI:
 * it downloads llama.cpp's source and compiles it; getLlama then finds that build even with build: 'never'). Mai's
 * package.json turns node-llama-cpp's postinstall off (it only tested the prebuilt binary, or tried this build), so
 * this is the step a machine without a working prebuilt binary needs.
 */
export const BUILD_COMMAND = 'npx --no node-llama-cpp source download';

export interface LlamaRuntimeOptions {
  /** The package to load (tests name one that does not exist). */
  moduleName: string;
  /** Folders to resolve it from besides Mai's own (the config's folder). */
  searchFrom: readonly string[];
  /** 'auto' uses a GPU when there is one (falling back to the CPU); false never does. */
  gpu: 'auto' | false;
  log: Logger;
}

export class LlamaRuntime {
  private module: Promise<NodeLlamaCpp> | null = null;
  private llama: Promise<Llama> | null = null;
  /** Why node-llama-cpp cannot run here, once an attempt failed (a reload retries). */
  private failure: MaiError | null = null;

  constructor(private readonly options: LlamaRuntimeOptions) {}

  private notInstalled(): MaiError {
    return new MaiError(
      ErrorCodes.unreachable,
      `GGUF models need node-llama-cpp, which is not installed. Install it next to Mai with \`${INSTALL_COMMAND}\`, then restart Mai.`,
      { data: { module: this.options.moduleName, install: INSTALL_COMMAND } },
    );
  }

  /** Where the package is, without loading it (cheap enough for every listing). Throws unreachable. */
  locate(): string {
    if (this.failure) throw this.failure;
    const bases = [import.meta.url, ...this.options.searchFrom.map((dir) => pathToFileURL(join(dir, 'mai.config.yaml')).href)];
    for (const base of bases) {
      try {
        return createRequire(base).resolve(this.options.moduleName);
      } catch {
        // try the next place
      }
    }
    throw this.notInstalled();
  }

  /** The reason it cannot run, or null while nothing has failed. */
  get problem(): MaiError | null {
    return this.failure;
  }

  /**
   * Why node-llama-cpp cannot run in this process — not installed, a Deno permission not given,
   * or a native library that failed to load — or undefined when nothing says so yet. Cheap: it
   * loads nothing.
   */
  cannotRun(): string | undefined {
    try {
      this.locate();
    } catch (error) {
      return MaiError.from(error).message;
    }
    return (this.failure ?? this.deniedUnderDeno())?.message;
  }

  /** The node-llama-cpp module, imported once. */
  nodeLlamaCpp(): Promise<NodeLlamaCpp> {
    this.module ??= (async () => {
      const path = this.locate();
      const denied = this.deniedUnderDeno();
      if (denied) throw denied;
      try {
        return (await import(pathToFileURL(path).href)) as NodeLlamaCpp;
      } catch (cause) {
        throw this.fail(`node-llama-cpp is installed (${path}) but failed to load: ${(cause as Error).message}`, cause);
      }
    })();
    return this.module;
  }

  private fail(message: string, cause: unknown, hint = ` Reinstall it with \`${INSTALL_COMMAND}\`.`): MaiError {
    this.failure = new MaiError(ErrorCodes.unreachable, `${message}.${hint}`, { cause, data: { module: this.options.moduleName } });
    return this.failure;
  }

  /** No prebuilt binary loads here: name the command that builds one, run where node-llama-cpp is installed. */
  private nativeFailure(cause: unknown): MaiError {
    const path = this.locate();
    const at = path.lastIndexOf(`${sep}node_modules${sep}`);
    const where = at > 0 ? ` in ${path.slice(0, at)}` : '';
    const hint = ` Build llama.cpp for this machine with \`${BUILD_COMMAND}\`${where} (it needs CMake and a C++ compiler), or, if the install is damaged, reinstall it with \`${INSTALL_COMMAND}\`; then restart Mai.`;
    return this.fail(`node-llama-cpp's native library failed to load: ${(cause as Error).message}`, cause, hint);
  }

  /**
   * Under Deno, node-llama-cpp loads a Node-API addon (--allow-ffi) after testing it in a forked
   * Deno (--allow-run of Deno itself), and reads the home folder and user id as it is imported
   * (--allow-sys=homedir,uid); without them it throws, some where nothing can catch it, so ask
   * first. Null under Node.
   */
  private deniedUnderDeno(): MaiError | null {
    const deno = denoExecPath();
    const needs = [{ name: 'sys', kind: 'homedir' }, { name: 'sys', kind: 'uid' }, { name: 'ffi' }, { name: 'run', command: deno ?? '' }] as const;
    const denied = deno ? deniedBecause("node-llama-cpp's native addon", [...needs]) : null;
    return denied ? this.fail(denied, undefined, ' Add it to `deno run` to use GGUF models; the other backends work without.') : null;
  }

  /** node-llama-cpp's Llama (the native library), loaded once. */
  instance(): Promise<Llama> {
    this.llama ??= (async () => {
      const { getLlama, LlamaLogLevel } = await this.nodeLlamaCpp();
      const log = this.options.log;
      const base = {
        build: 'never' as const,
        skipDownload: true,
        progressLogs: false,
        logLevel: LlamaLogLevel.warn,
        logger: (level: string, message: string) => {
          const line = message.trimEnd();
          if (level === 'error' || level === 'fatal') log.warn(`llama.cpp: ${line}`);
          else log.debug(`llama.cpp ${level}: ${line}`);
        },
      };
      try {
        return await getLlama({ ...base, gpu: this.options.gpu });
      } catch (first) {
        if (this.options.gpu === false) throw this.nativeFailure(first);
        log.warn('node-llama-cpp could not use a GPU; using the CPU', first);
        try {
          return await getLlama({ ...base, gpu: false });
        } catch (cause) {
          throw this.nativeFailure(cause);
        }
      }
    })();
    return this.llama;
  }

  /** Loads a model (vocabOnly: just its tokenizer, for counting tokens). */
  async loadModel(file: string, options: { vocabOnly?: boolean; signal?: AbortSignal } = {}): Promise<LlamaModel> {
    const llama = await this.instance();
    try {
      return await llama.loadModel({
        modelPath: file,
        ...(options.vocabOnly ? { vocabOnly: true } : {}),
        ...(options.signal ? { loadSignal: options.signal } : {}),
      });
    } catch (cause) {
      if (options.signal?.aborted) throw new MaiError(ErrorCodes.cancelled, `Loading ${file} was cancelled.`, { cause, retryable: false });
      throw new MaiError(ErrorCodes.serverError, `node-llama-cpp could not load ${file}: ${(cause as Error).message}`, { cause, data: { file } });
    }
  }

  async close(): Promise<void> {
    const llama = this.llama;
    this.llama = null;
    this.module = null;
    if (llama) await llama.then((l) => l.dispose()).catch(() => {});
  }
}
