/**
 * Plugins: one typed way to define a backend or a scorer (`definePlugin`), and the loader that
 * turns what the config names (a built-in, a relative path, an npm package) into instances.
 */
import { createRequire } from 'node:module';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { z } from 'zod';
import type { LoadedConfig } from './config/load.ts';
import type { Cooldowns } from './fallback/cooldown.ts';
import type { LoadView } from './load/replica-router.ts';
import type { PluginRef } from './config/schema.ts';
import { describeIssue } from './config/describe-issue.ts';
import { formatPath } from './config/yaml-locator.ts';
import { ErrorCodes, MaiError } from './errors.ts';
import type { Logger } from './log.ts';
import type { Backend, Scorer } from './types.ts';

/** What a plugin's `create` gets besides its options. */
export interface PluginContext {
  /** The instance name (the config's `name`, else `use`). */
  name: string;
  /** Folder relative paths in the config resolve against. */
  baseDir: string;
  stateDir: string;
  env: Readonly<Record<string, string | undefined>>;
  log: Logger;
  /** Recent failures and cooldowns per model, shared by the fallback stage and scorers. */
  cooldowns: Cooldowns;
  /** The load each model's servers report now (for the load scorer); absent before backends exist. */
  load?: LoadView;
}

interface PluginBase<K extends string, T, S extends z.ZodType> {
  kind: K;
  name: string;
  description?: string;
  /** Schema of the plugin's `options` in the config; validated before `create`. */
  options?: S;
  create(options: z.output<S>, context: PluginContext): T | Promise<T>;
}

export type BackendPlugin<S extends z.ZodType = z.ZodType> = PluginBase<'backend', Backend, S>;
export type ScorerPlugin<S extends z.ZodType = z.ZodType> = PluginBase<'scorer', Scorer, S>;
export type MaiPlugin = BackendPlugin | ScorerPlugin;
export type PluginKind = MaiPlugin['kind'];

/** Identity helper that types a plugin definition (like citty's define*). */
export function definePlugin<S extends z.ZodType>(plugin: BackendPlugin<S>): BackendPlugin<S>;
export function definePlugin<S extends z.ZodType>(plugin: ScorerPlugin<S>): ScorerPlugin<S>;
export function definePlugin(plugin: MaiPlugin): MaiPlugin {
  return plugin;
}

export function isPlugin(value: unknown): value is MaiPlugin {
  if (!value || typeof value !== 'object') return false;
  const p = value as Partial<MaiPlugin>;
  return (p.kind === 'backend' || p.kind === 'scorer') && typeof p.name === 'string' && typeof p.create === 'function';
}

export interface LoadPluginsInput<R extends PluginRef = PluginRef> {
  kind: PluginKind;
  /** The config section, for error messages: `backends` or `scorers`. */
  section: 'backends' | 'scorers';
  refs: readonly R[];
  builtins: readonly MaiPlugin[];
  loaded: LoadedConfig;
  context: Omit<PluginContext, 'name' | 'baseDir'>;
}

/** Resolves a `use:` to a plugin definition. */
async function resolvePlugin(use: string, input: LoadPluginsInput<PluginRef>, at: string, index: number): Promise<MaiPlugin> {
  const builtin = input.builtins.find((p) => p.kind === input.kind && p.name === use);
  if (builtin) return builtin;
  const looksLikePath = use.startsWith('.') || isAbsolute(use);
  let specifier: string;
  try {
    specifier = looksLikePath
      ? pathToFileURL(resolve(input.loaded.baseDir, use)).href
      : pathToFileURL(createRequire(resolve(input.loaded.baseDir, 'mai.config.yaml')).resolve(use)).href;
  } catch (cause) {
    const known = input.builtins.filter((p) => p.kind === input.kind).map((p) => p.name);
    throw new MaiError(
      looksLikePath ? ErrorCodes.pluginLoad : ErrorCodes.pluginUnknown,
      `${input.section}[${index}].use: unknown ${input.kind} plugin "${use}" (${at}). Known ${input.kind} plugins: ${known.join(', ')}. ` +
        `Use one of those, a relative path to a module (./my-plugin.js), or an npm package installed next to the config.`,
      { cause, data: { use, known, at } },
    );
  }
  let module: Record<string, unknown>;
  try {
    module = (await import(specifier)) as Record<string, unknown>;
  } catch (cause) {
    throw new MaiError(
      ErrorCodes.pluginLoad,
      `${input.section}[${index}].use: the plugin module "${use}" failed to load (${at}): ${(cause as Error).message}. Fix the module or remove it from the config.`,
      { cause, data: { use, at } },
    );
  }
  const candidate = module.default ?? module.plugin;
  if (!isPlugin(candidate) || candidate.kind !== input.kind) {
    throw new MaiError(
      ErrorCodes.pluginLoad,
      `${input.section}[${index}].use: "${use}" does not export a ${input.kind} plugin (${at}). ` +
        `Its default export must be definePlugin({ kind: '${input.kind}', name, create }).`,
      { data: { use, at } },
    );
  }
  return candidate;
}

/** Loads and creates every enabled plugin of one section; all or nothing. */
export async function loadPlugins<T extends Backend | Scorer, R extends PluginRef = PluginRef>(
  input: LoadPluginsInput<R>,
): Promise<Array<{ ref: R; instance: T }>> {
  const out: Array<{ ref: R; instance: T }> = [];
  for (const [index, ref] of input.refs.entries()) {
    if (!ref.enabled) continue;
    const at = input.loaded.where([input.section, index]);
    const plugin = await resolvePlugin(ref.use, input, at, index);
    let options: unknown = ref.options;
    if (plugin.options) {
      const parsed = plugin.options.safeParse(ref.options);
      if (!parsed.success) {
        const problems = parsed.error.issues.map((issue) => {
          const path = [input.section, index, 'options', ...issue.path];
          return `  ${formatPath(path)}: ${describeIssue(issue, ref.options, plugin.options!)} (${input.loaded.where(path)})`;
        });
        throw new MaiError(
          ErrorCodes.configInvalid,
          `The options of ${input.kind} plugin "${plugin.name}" are wrong:\n${problems.join('\n')}\nFix them in ${input.loaded.file}.`,
          { data: { plugin: plugin.name, at } },
        );
      }
      options = parsed.data;
    }
    const name = ref.name ?? ref.use;
    try {
      const instance = await (plugin.create as (o: unknown, c: PluginContext) => T | Promise<T>)(options, {
        ...input.context,
        name,
        baseDir: input.loaded.baseDir,
      });
      out.push({ ref, instance });
    } catch (cause) {
      if (cause instanceof MaiError && cause.code === ErrorCodes.configInvalid) throw cause;
      throw new MaiError(
        ErrorCodes.pluginLoad,
        `The ${input.kind} plugin "${name}" (${plugin.name}) failed to start (${at}): ${(cause as Error).message}`,
        { cause, data: { plugin: plugin.name, at } },
      );
    }
  }
  return out;
}
