export { default as gguf } from './gguf.ts';
export { default as lmstudio, LMStudioBackend } from './lmstudio.ts';
export { default as ollama, OllamaBackend } from './ollama.ts';
export { default as openai, OpenAIBackend } from './openai.ts';
