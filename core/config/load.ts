/**
 * Finds, parses and validates mai.config.yaml. A config either loads whole or not at all:
 * every problem is reported with its YAML path, line and what is allowed.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { ErrorCodes, MaiError } from '../errors.ts';
import { describeIssue } from './describe-issue.ts';
import { builtinConfigFile, findConfig, type ConfigSource, type FindConfigOptions } from './find.ts';
import { MaiConfig } from './schema.ts';
import { formatPath, parseYaml, type ConfigPath } from './yaml-locator.ts';

export { builtinConfigFile, findConfig, type ConfigSource, type FindConfigOptions } from './find.ts';

export interface LoadedConfig {
  readonly config: MaiConfig;
  /** Absolute path of the file it came from. */
  readonly file: string;
  /** Where the file was found: --config, MAI_CONFIG, cwd, xdg or built-in. */
  readonly source: ConfigSource;
  /** Folder that relative paths in the config are resolved against. */
  readonly baseDir: string;
  /** `mai.config.yaml:14`, for error messages about a part of the config. */
  where(path: ConfigPath): string;
  /** `mai.config.yaml:15`: the line of the key `key` in the map at `path`. */
  whereKey(path: ConfigPath, key: string): string;
}

/** The end of a config error: where the annotated default config (every key, its default, what it does) is. */
export function annotatedDefaultHint(): string {
  let file = "mai.config.yaml in Mai's folder";
  try {
    file = builtinConfigFile();
  } catch {
    // named generically: the error that brought us here matters more
  }
  return `the annotated default config, ${file}, shows every key with its default.`;
}

/** Parses and validates config text; `file` is used in messages and to resolve relative paths. */
export function parseConfig(text: string, file: string, source: ConfigSource = 'flag'): LoadedConfig {
  const name = basename(file);
  const yaml = parseYaml(text);
  if (yaml.errors.length > 0) {
    const lines = yaml.errors.map((e) => `  ${name}:${e.line ?? '?'}:${e.column ?? '?'}: ${e.message}`);
    throw new MaiError(
      ErrorCodes.configInvalid,
      `${file} is not valid YAML:\n${lines.join('\n')}\nFix the YAML syntax at that line (indentation, a missing colon or an unclosed quote are the usual causes).`,
      { data: { file, issues: yaml.errors.map((e) => ({ path: '', line: e.line, message: e.message })) } },
    );
  }
  if (yaml.data === null || yaml.data === undefined) {
    throw new MaiError(
      ErrorCodes.configInvalid,
      `${file} is empty (or holds only comments): a config that names no backend would leave Mai with no model, so nothing of it was applied. ` +
        `Write at least a backends: list (the annotated default config in Mai's README shows every key), or remove the file to use the built-in default.`,
      { data: { file, issues: [{ path: '(top level)', line: 1, message: 'the file is empty' }] } },
    );
  }
  const raw = yaml.data;
  const result = MaiConfig.safeParse(raw);
  if (!result.success) {
    const issues = result.error.issues.map((issue) => {
      const line =
        issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined
          ? yaml.lineOfKey(issue.path, issue.keys[0])
          : yaml.lineOf(issue.path);
      return { path: formatPath(issue.path), line, message: describeIssue(issue, raw, MaiConfig) };
    });
    const lines = issues.map((i) => `  ${i.path}: ${i.message} (${name}:${i.line ?? '?'})`);
    throw new MaiError(
      ErrorCodes.configInvalid,
      `${file} has ${issues.length} problem(s); nothing of it was applied:\n${lines.join('\n')}\nFix each line named above; ${annotatedDefaultHint()}`,
      { data: { file, issues } },
    );
  }
  return {
    config: result.data,
    file,
    source,
    baseDir: dirname(file),
    where: (path) => `${name}:${yaml.lineOf(path) ?? '?'}`,
    whereKey: (path, key) => `${name}:${yaml.lineOfKey(path, key) ?? '?'}`,
  };
}

/** Finds the config as `findConfig` does and loads it. */
export function loadConfig(options: FindConfigOptions = {}): LoadedConfig {
  const { file, source } = findConfig(options);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new MaiError(ErrorCodes.configNotFound, `Cannot read the config file ${file}: ${(cause as Error).message}.`, {
      cause,
      data: { file },
    });
  }
  return parseConfig(text, file, source);
}
