/**
 * A sampling worker for test/monitor-sampling.test.ts: answers at once with a sample stamped ten
 * minutes ago (so every snapshot is stale) and counts how often it was asked.
 */
import { threadId } from 'node:worker_threads';

let calls = 0;

export default async function sample() {
  calls++;
  return {
    cpuLoad: 0.25,
    memTotalBytes: 8 * 1024 ** 3,
    memFreeBytes: calls * 1024 ** 2,
    gpus: [],
    unavailable: [],
    sampledAt: Date.now() - 600_000,
    tookMs: 0,
    threadId,
  };
}
