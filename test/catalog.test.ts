import { describe, expect, it } from 'vitest';
import { Catalog } from '../core/catalog.ts';
import { ErrorCodes, MaiError } from '../core/errors.ts';
import { createLogger } from '../core/log.ts';
import type { Backend, BackendModel } from '../core/types.ts';

/** A backend that lists what it is given, or is down. */
function backend(name: string, models: BackendModel[] | 'down', serves?: string): Backend {
  return {
    name,
    ...(serves ? { serves } : {}),
    async listModels() {
      if (models === 'down') throw new MaiError(ErrorCodes.unreachable, `${name} cannot be reached (ECONNREFUSED)`);
      return models;
    },
    async *chat() {
      yield { type: 'done', finishReason: 'stop' } as const;
    },
  };
}

const log = createLogger('test', 'silent');
const inOllamaStore: BackendModel = { id: 'llama3.2:1b', loaded: false, sizeBytes: 1e9, storeOf: 'ollama' };
const inFolder: BackendModel = { id: 'mai-demo-small', loaded: false, sizeBytes: 1e6 };

describe('the catalogue', () => {
  it('leaves a model found in Ollama’s store to Ollama while Ollama runs', async () => {
    const catalog = new Catalog({
      backends: [backend('gguf', [inOllamaStore, inFolder]), backend('ollama', [{ id: 'llama3.2:1b', loaded: true }], 'ollama')],
      models: [],
      log,
    });
    await catalog.refresh();
    expect(catalog.list().map((m) => `${m.backend}:${m.id}`)).toEqual(['gguf:mai-demo-small', 'ollama:llama3.2:1b']);
    expect(catalog.get('llama3.2:1b')?.backend).toBe('ollama');
  });

  it('runs that model in-process when Ollama is down', async () => {
    const catalog = new Catalog({ backends: [backend('gguf', [inOllamaStore, inFolder]), backend('ollama', 'down', 'ollama')], models: [], log });
    await catalog.refresh();
    expect(catalog.get('llama3.2:1b')?.backend).toBe('gguf');
    expect(catalog.status().find((s) => s.name === 'ollama')).toMatchObject({ reachable: false, error: expect.stringContaining('ECONNREFUSED') });
  });

  it('makes one model with two replicas of the same id on two backends, still reachable as backend/id', async () => {
    const catalog = new Catalog({ backends: [backend('a', [{ id: 'm', loaded: false }]), backend('b', [{ id: 'm', loaded: true }])], models: [], log });
    await catalog.refresh();
    expect(catalog.list().map((m) => m.id)).toEqual(['m']);
    expect(catalog.get('m')?.replicas?.map((r) => `${r.backend}:${r.backendModelId}:${r.loaded}`)).toEqual(['a:m:false', 'b:m:true']);
    expect(catalog.get('b/m')?.id).toBe('m');
  });

  it('makes replicas of the same GGUF under two ids, and of a model the config names with replicaOf', async () => {
    const catalog = new Catalog({
      backends: [
        backend('a', [{ id: 'qwen-7b', loaded: true, artifact: 'Qwen2.5-7B-Q4_K_M.gguf' }, { id: 'other', loaded: true }]),
        backend('b', [{ id: '/models/Qwen2.5-7B-Q4_K_M.gguf', loaded: true, artifact: 'Qwen2.5-7B-Q4_K_M.gguf' }]),
        backend('c', [{ id: 'qwen2.5-7b-instruct', loaded: true }]),
      ],
      models: [{ id: 'qwen2.5-7b-instruct', backend: 'c', replicaOf: 'qwen-7b' }],
      log,
    });
    await catalog.refresh();
    expect(catalog.list().map((m) => m.id).sort()).toEqual(['other', 'qwen-7b']);
    expect(catalog.get('qwen-7b')?.replicas?.map((r) => `${r.backend}:${r.backendModelId}`)).toEqual(['a:qwen-7b', 'b:/models/Qwen2.5-7B-Q4_K_M.gguf', 'c:qwen2.5-7b-instruct']);
  });

  it('hides the demo models as soon as a real model exists anywhere', async () => {
    const demo: BackendModel[] = [
      { id: 'mai-demo-large', loaded: false, demo: true },
      { id: 'mai-demo-small', loaded: false, demo: true },
    ];
    const alone = new Catalog({ backends: [backend('gguf', demo), backend('ollama', 'down', 'ollama')], models: [], log });
    await alone.refresh();
    expect(alone.list().map((m) => m.id)).toEqual(['mai-demo-large', 'mai-demo-small']);
    const withReal = new Catalog({ backends: [backend('gguf', demo), backend('ollama', [{ id: 'qwen2.5:0.5b', loaded: false }], 'ollama')], models: [], log });
    await withReal.refresh();
    expect(withReal.list().map((m) => m.id)).toEqual(['qwen2.5:0.5b']);
    const named = new Catalog({
      backends: [backend('gguf', demo), backend('ollama', [{ id: 'qwen2.5:0.5b', loaded: false }], 'ollama')],
      models: [{ id: 'mai-demo-small' }],
      log,
    });
    await named.refresh();
    expect(named.list().map((m) => m.id).sort()).toEqual(['mai-demo-small', 'qwen2.5:0.5b']);
  });
});
