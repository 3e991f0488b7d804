export { COMPRESS_SHARE, createAttemptPlan, fallbackOrder, statedWindow, type PlanInput } from './attempt-plan.ts';
export { Cooldowns } from './cooldown.ts';
export { ModelQueue, type Lease, type ModelQueueOptions } from './model-queue.ts';
