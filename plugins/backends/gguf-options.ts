/** The gguf backend's options (its plugin, gguf.ts, validates a config's `options:` with them). */
import { lazySchema, z } from '../../core/zod.ts';

export const GgufBackendOptions = lazySchema(() =>
  z.strictObject({
    folders: z.array(z.string().min(1)).default(['./models']).describe('folders searched for .gguf files (relative to the config file)'),
    lmStudioFolders: z.array(z.string().min(1)).optional().describe("LM Studio's model folders; default ~/.lmstudio/models and ~/.cache/lm-studio/models; [] for none"),
    ollamaFolders: z.array(z.string().min(1)).optional().describe("Ollama's models folder (manifests/ and blobs/); default $OLLAMA_MODELS or ~/.ollama/models; [] for none"),
    threads: z.number().int().positive().default(1).describe("CPU threads per generation (node-llama-cpp's own default is slow on small machines)"),
    gpu: z.union([z.literal('auto'), z.literal(false)]).default('auto').describe("'auto' offloads to a GPU when there is one; false keeps to the CPU"),
    temperature: z.number().min(0).max(2).default(0.7).describe('when a turn sets none'),
    seed: z.number().int().min(0).optional().describe('fixes sampling, for reproducible answers'),
    moduleName: z.string().min(1).default('node-llama-cpp').describe('the package to load node-llama-cpp from'),
  }),
);
export type GgufBackendOptions = z.infer<typeof GgufBackendOptions>;
