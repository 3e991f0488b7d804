export { contextStage, type ContextStageOptions } from './context.ts';
export { fallbackStage, type FallbackStageOptions } from './fallback.ts';
export { inferStage, type InferStageOptions } from './infer.ts';
export { monitorStage, type MonitorStageOptions } from './monitor.ts';
export { selectStage, type SelectStageOptions } from './select.ts';
