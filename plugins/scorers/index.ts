export { default as capability } from './capability.ts';
export { default as contextFit } from './context-fit.ts';
export { default as latency } from './latency.ts';
export { default as load } from './load.ts';
export { default as reliability } from './reliability.ts';
export { default as resourceFit } from './resource-fit.ts';
