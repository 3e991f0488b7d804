/** The one CatalogModel fixture the unit suites build models from: every field set, the test's own on top. */
import type { CatalogModel } from '../../core/types.ts';

export function catalogModel(id: string, over: Partial<CatalogModel> = {}): CatalogModel {
  return {
    id,
    backendModelId: id,
    backend: 'b',
    loaded: false,
    contextLength: 4096,
    sizeBytes: undefined,
    quantization: undefined,
    tier: 'medium',
    capabilities: ['chat'],
    architecture: undefined,
    memoryBytes: undefined,
    vramBytes: undefined,
    minMemoryBytes: undefined,
    minVramBytes: undefined,
    priority: 0,
    ...over,
  };
}
