/**
 * A sampling worker for test/monitor-sampling.test.ts: the first sample is quick and stale, every
 * later one takes five seconds (like a hanging nvidia-smi), so a caller must not wait for it.
 */
import { threadId } from 'node:worker_threads';

let calls = 0;

export default async function sample() {
  calls++;
  if (calls > 1) await new Promise((resolve) => setTimeout(resolve, 5_000));
  return {
    cpuLoad: 0.5,
    memTotalBytes: 8 * 1024 ** 3,
    memFreeBytes: 4 * 1024 ** 3,
    gpus: [],
    unavailable: ['gpu: fixture has none'],
    sampledAt: Date.now() - 600_000,
    tookMs: 0,
    threadId,
  };
}
