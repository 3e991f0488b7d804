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

  it('names a model by backend/id when two backends list the same id', async () => {
    const catalog = new Catalog({ backends: [backend('a', [{ id: 'm', loaded: false }]), backend('b', [{ id: 'm', loaded: false }])], models: [], log });
    await catalog.refresh();
    expect(catalog.list().map((m) => m.id).sort()).toEqual(['a/m', 'b/m']);
    expect(() => catalog.require('m')).toThrow(/Unknown model "m"\. Known models: a\/m, b\/m/);
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
