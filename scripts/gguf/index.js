/** Mai's own small GGUF writer and the demo models it makes. */
export { DEFAULT_ALIGNMENT, FileType, GGUF_MAGIC, GGUF_VERSION, TensorType, TokenType, ValueType } from './constants.js';
export { DEMO_MODELS, ensureDemoModels, writeDemoModel } from './demo-models.js';
export { toFloat16Bits, encodeFloat16 } from './float16.js';
export { createRandom, hashSeed } from './random.js';
export { buildTinyLlama, CHATML_TEMPLATE } from './tiny-llama.js';
export { buildVocabulary, SpecialTokens, SPACE } from './vocabulary.js';
export { encodeGguf, meta, writeGguf } from './writer.js';
