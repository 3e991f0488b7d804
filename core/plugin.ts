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
import { annotatedDefaultHint } from './config/load.ts';
import { formatPath } from './config/yaml-locator.ts';
import { ErrorCodes, MaiError, type ErrorCode } from './errors.ts';
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

/** One thing wrong with a plugin the config names: its code, and a line for the report. */
export interface PluginProblem {
  code: ErrorCode;
  message: string;
  at: string;
}

/** A plugin the config names, resolved and its options validated, ready to create. */
export interface CheckedPlugin<R extends PluginRef = PluginRef> {
  ref: R;
  plugin: MaiPlugin;
  options: unknown;
  index: number;
}

/**
 * Resolves every enabled plugin of one section and validates its options, collecting every
 * problem rather than stopping at the first (so one run reports an unknown scorer, a missing
 * module and a wrong backend option together).
 */
export async function checkPlugins<R extends PluginRef>(input: LoadPluginsInput<R>): Promise<{ checked: CheckedPlugin<R>[]; problems: PluginProblem[] }> {
  const checked: CheckedPlugin<R>[] = [];
  const problems: PluginProblem[] = [];
  for (const [index, ref] of input.refs.entries()) {
    if (!ref.enabled) continue;
    const at = input.loaded.where([input.section, index]);
    let plugin: MaiPlugin;
    try {
      plugin = await resolvePlugin(ref.use, input, at, index);
    } catch (error) {
      const e = error instanceof MaiError ? error : new MaiError(ErrorCodes.pluginLoad, String(error));
      problems.push({ code: e.code, message: e.message, at });
      continue;
    }
    let options: unknown = ref.options;
    if (plugin.options) {
      const parsed = plugin.options.safeParse(ref.options);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) {
          const path = [input.section, index, 'options', ...issue.path];
          // An unknown key is reported at its own line, not at the line its map starts on.
          const where =
            issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined ? input.loaded.whereKey(path, issue.keys[0]) : input.loaded.where(path);
          problems.push({
            code: ErrorCodes.configInvalid,
            message: `${formatPath(path)}: ${describeIssue(issue, ref.options, plugin.options)} (${where}) — an option of ${input.kind} plugin "${plugin.name}"`,
            at: where,
          });
        }
        continue;
      }
      options = parsed.data;
    }
    checked.push({ ref, plugin, options, index });
  }
  return { checked, problems };
}

/**
 * The one error for every plugin problem of a config: a lone problem keeps its own code and
 * message; several are listed together, each with its line.
 */
export function pluginProblemsError(file: string, problems: readonly PluginProblem[]): MaiError {
  if (problems.length === 1) {
    const [only] = problems as [PluginProblem];
    return new MaiError(only.code, `${only.message}\nFix it in ${file}; ${annotatedDefaultHint()}`, { data: { file, problems } });
  }
  const codes = new Set(problems.map((p) => p.code));
  const code = codes.size === 1 ? [...codes][0]! : ErrorCodes.configInvalid;
  return new MaiError(
    code,
    `${file} has ${problems.length} problem(s) with its plugins; nothing of it was applied:\n${problems.map((p) => `  ${p.message}`).join('\n')}\nFix each line named above; ${annotatedDefaultHint()}`,
    { data: { file, problems } },
  );
}

/** Loads and creates every enabled plugin of one section; all or nothing. */
export async function loadPlugins<T extends Backend | Scorer, R extends PluginRef = PluginRef>(
  input: LoadPluginsInput<R>,
): Promise<Array<{ ref: R; instance: T }>> {
  const { checked, problems } = await checkPlugins(input);
  if (problems.length > 0) throw pluginProblemsError(input.loaded.file, problems);
  return createPlugins<T, R>(input, checked);
}

/** Creates checked plugins, in config order; a `create` that throws stops it (its error names the plugin). */
export async function createPlugins<T extends Backend | Scorer, R extends PluginRef = PluginRef>(
  input: LoadPluginsInput<R>,
  checked: readonly CheckedPlugin<R>[],
): Promise<Array<{ ref: R; instance: T }>> {
  const out: Array<{ ref: R; instance: T }> = [];
  for (const { ref, plugin, options, index } of checked) {
    const at = input.loaded.where([input.section, index]);
    const name = ref.name ?? ref.use;
    try {
      const instance = await (plugin.create as (o: unknown, c: PluginContext) => T | Promise<T>)(options, {
        ...input.context,
        name,
        baseDir: input.loaded.baseDir,
      });
      out.push({ ref, instance });
    } catch (cause) {
      await Promise.all(out.map((o) => ('close' in o.instance ? o.instance.close?.() : undefined)?.catch(() => undefined)));
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
