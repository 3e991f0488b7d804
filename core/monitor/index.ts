export { FixedMonitor, OsMonitor, osSnapshot, type LoadedModelsSource, type ResourceMonitor } from './resource-monitor.ts';
export { SamplingMonitor, type SamplingMonitorOptions, type SamplingStats } from './sampling-monitor.ts';
export { ewma, slopePerSecond, Smoother, type RawSample } from './smoothing.ts';
export { GPU_REPROBE_MS, GpuProbe } from './gpu-probe.ts';
