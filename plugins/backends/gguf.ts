/**
 * gguf — GGUF model files run in-process through node-llama-cpp (an optional dependency): the
 * plugin and its options. The backend itself (gguf-backend.ts, with GGUF discovery, header reading
 * and the runtime, ~55 KB) is imported when a config names it, so a Mai of HTTP backends only
 * never compiles it.
 */
import { definePlugin } from '../../core/plugin.ts';
import { GgufBackendOptions } from './gguf-options.ts';

export { GgufBackendOptions } from './gguf-options.ts';

export default definePlugin({
  kind: 'backend',
  name: 'gguf',
  description: 'GGUF model files run in-process through node-llama-cpp',
  options: GgufBackendOptions,
  async create(options, context) {
    const { GgufBackend } = await import('./gguf-backend.ts');
    return new GgufBackend(context.name, options, context);
  },
});
