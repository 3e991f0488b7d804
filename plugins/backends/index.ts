export { default as gguf, GgufBackend } from './gguf.ts';
export { readGgufModelInfo, type GgufModelInfo } from './gguf-metadata.ts';
export { default as lmstudio, LMStudioBackend } from './lmstudio.ts';
export { default as ollama, OllamaBackend } from './ollama.ts';
export { default as openai, OpenAIBackend } from './openai.ts';
