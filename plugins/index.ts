/** The plugins Mai ships, found by the name a config's `use:` gives. */
import type { MaiPlugin } from '../core/plugin.ts';
import * as backends from './backends/index.ts';
import * as scorers from './scorers/index.ts';

export const builtinPlugins: readonly MaiPlugin[] = [
  backends.gguf,
  backends.ollama,
  backends.lmstudio,
  backends.openai,
  scorers.resourceFit,
  scorers.contextFit,
  scorers.capability,
  scorers.reliability,
  scorers.latency,
  scorers.load,
] as MaiPlugin[];
