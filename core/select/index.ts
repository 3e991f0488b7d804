export { bestGpuFreeBytes, defaultMemoryRules, estimateMemory, heldBytes, kvCacheBytes, lighter, usableBytes, type MemoryRules } from './memory-estimate.ts';
export { minimalResource, SCORE_EPSILON, Selector, type Choice, type ChooseInput, type RankInput, type WeightedScorer } from './selector.ts';
export { Switcher, type Preparation, type SwitchAction, type SwitcherCatalog, type SwitcherOptions } from './switcher.ts';
export { activeTriggers, pressureRelieved, ReplyTimes, type Trigger, type TriggerKind } from './triggers.ts';
