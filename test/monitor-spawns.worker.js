/**
 * A sampling worker for test/monitor-gpu-probe.test.ts: the real sample.worker.js, with every
 * process-starting function of node:child_process counted. They are wrapped before
 * systeminformation loads (it keeps its own references to them), so a process it starts is seen.
 */
import childProcess from 'node:child_process';

const names = /** @type {const} */ (['exec', 'execSync', 'execFile', 'execFileSync', 'spawn', 'spawnSync', 'fork']);
/** @type {string[]} */
let started = [];
const target = /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (childProcess));
for (const name of names) {
  const original = /** @type {(...args: unknown[]) => unknown} */ (target[name]);
  target[name] = (/** @type {unknown[]} */ ...args) => {
    started.push(`${name} ${String(args[0]).slice(0, 60)}`);
    return original(...args);
  };
}

const { default: sample } = await import('../core/monitor/sample.worker.js');

/** @param {{ gpu: boolean }} task */
export default async function sampleCountingProcesses(task) {
  started = [];
  const raw = await sample(task);
  return { ...raw, started };
}
