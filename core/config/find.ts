/**
 * Which config file Mai uses (--config, MAI_CONFIG, ./mai.config.yaml, the XDG one, the built-in),
 * without reading it: free of zod and YAML, so the thin `mai serve` forwarder finds its host's
 * config (rpc/host/) without loading Mai.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { ErrorCodes, MaiError } from '../errors.ts';
import { maiPackage } from '../package-root.ts';

export type ConfigSource = 'flag' | 'env' | 'cwd' | 'xdg' | 'builtin';

export interface FindConfigOptions {
  /** The --config flag. */
  flag?: string | undefined;
  env?: Readonly<Record<string, string | undefined>>;
  cwd?: string;
}

/** The default config that ships with Mai (the mai.config.yaml beside its package.json). */
export function builtinConfigFile(): string {
  const root = maiPackage()?.root;
  const candidate = root === undefined ? undefined : join(root, 'mai.config.yaml');
  if (candidate !== undefined && existsSync(candidate)) return candidate;
  throw new MaiError(ErrorCodes.configNotFound, `Mai's built-in mai.config.yaml is missing ${root === undefined ? '(no package.json of Mai found)' : `in ${root}`}; reinstall Mai.`);
}

/** --config, then MAI_CONFIG, then ./mai.config.yaml, then $XDG_CONFIG_HOME/mai/config.yaml, then the built-in. */
export function findConfig(options: FindConfigOptions = {}): { file: string; source: ConfigSource } {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const named = (file: string, source: ConfigSource, how: string) => {
    const path = resolve(cwd, file);
    if (!existsSync(path)) {
      throw new MaiError(
        ErrorCodes.configNotFound,
        `The config file ${path} (named by ${how}) does not exist. Fix the path, or leave ${how} out to use ./mai.config.yaml or the built-in default.`,
        { data: { file: path } },
      );
    }
    return { file: path, source };
  };
  if (options.flag) return named(options.flag, 'flag', '--config');
  if (env.MAI_CONFIG) return named(env.MAI_CONFIG, 'env', 'MAI_CONFIG');
  const local = resolve(cwd, 'mai.config.yaml');
  if (existsSync(local)) return { file: local, source: 'cwd' };
  const xdgHome = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  const xdg = join(xdgHome, 'mai', 'config.yaml');
  if (existsSync(xdg)) return { file: xdg, source: 'xdg' };
  return { file: builtinConfigFile(), source: 'builtin' };
}

