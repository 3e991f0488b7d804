/**
 * Run under Deno by test/backend-deno.test.ts: the three HTTP backends against the same loopback
 * servers, reporting on stderr (one JSON line) what each listed, streamed, and how a cut stream,
 * a refused connection and an abort were classified — Deno's fetch words its errors differently.
 */
import type { Backend, ChatRequest } from '../../core/types.ts';
import { LMStudioBackend, LMStudioBackendOptions } from '../../plugins/backends/lmstudio.ts';
import { OllamaBackend, OllamaBackendOptions } from '../../plugins/backends/ollama.ts';
import { OpenAIBackend, OpenAIBackendOptions } from '../../plugins/backends/openai.ts';
import { startLmStudioServer } from './lmstudio-server.ts';
import { startOllamaServer } from './ollama-server.ts';
import { closedPort, startOpenAIServer } from './openai-server.ts';

const ollama = await startOllamaServer([
  { name: 'm:latest', contextLength: 4096, reply: 'ollama answers' },
  { name: 'cut:latest', reply: 'abcdefgh', behaviour: { kind: 'cut', afterChunks: 2 } },
  { name: 'slow:latest', reply: 'one two three four five six', chunks: 6, chunkDelayMs: 50 },
]);
const lmstudio = await startLmStudioServer([
  { key: 'q', instances: [{ id: 'q', contextLength: 4096 }], reply: 'lmstudio answers' },
  { key: 'cut', instances: [{ id: 'cut', contextLength: 4096 }], reply: 'abcdefgh', behaviour: { kind: 'cut', afterChunks: 2 } },
]);
const openai = await startOpenAIServer([
  { id: 'o', reply: 'openai answers' },
  { id: 'cut', reply: 'abcdefgh', behaviour: { kind: 'cut', afterChunks: 2 } },
]);

async function run(backend: Backend, model: string, extra: Partial<ChatRequest> = {}, onDelta?: () => void) {
  let text = '';
  let done: string | undefined;
  let error: string | undefined;
  try {
    for await (const chunk of backend.chat({ model, messages: [{ role: 'user', content: 'hi' }], signal: new AbortController().signal, ...extra })) {
      if (chunk.type === 'delta') {
        text += chunk.text;
        onDelta?.();
      } else done = chunk.finishReason;
    }
  } catch (e) {
    error = (e as { code?: string }).code;
  }
  return { text, done, error };
}

const backends = {
  ollama: new OllamaBackend('ollama', OllamaBackendOptions.parse({ baseURL: ollama.url })),
  lmstudio: new LMStudioBackend('lmstudio', LMStudioBackendOptions.parse({ baseURL: lmstudio.url }), undefined, {}),
  openai: new OpenAIBackend('openai', OpenAIBackendOptions.parse({ baseURL: openai.baseURL }), undefined),
};
const answers = { ollama: 'm:latest', lmstudio: 'q', openai: 'o' } as const;
const report: Record<string, unknown> = {};
for (const [name, backend] of Object.entries(backends) as Array<[keyof typeof backends, Backend]>) {
  report[name] = {
    models: (await backend.listModels()).map((m) => m.id),
    answer: await run(backend, answers[name]),
    cut: await run(backend, name === 'ollama' ? 'cut:latest' : 'cut'),
  };
}
const controller = new AbortController();
report.abort = await run(backends.ollama, 'slow:latest', { signal: controller.signal }, () => controller.abort());
const refused = new OllamaBackend('dead', OllamaBackendOptions.parse({ baseURL: `http://127.0.0.1:${await closedPort()}` }));
report.refused = await refused.listModels().then(
  () => 'listed',
  (e: { code?: string }) => e.code,
);
await Promise.all([ollama.close(), lmstudio.close(), openai.close()]);
console.error(`REPORT ${JSON.stringify(report)}`);
