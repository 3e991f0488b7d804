export { default as gguf } from './gguf.ts';
export { default as lmstudio } from './lmstudio.ts';
export { default as ollama } from './ollama.ts';
export { default as openai, OpenAIBackend } from './openai.ts';
