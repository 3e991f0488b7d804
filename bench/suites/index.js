/** The benchmarks, in the order the issue lists them. */
export { overhead } from './overhead.js';
export { throughput } from './throughput.js';
export { monitor } from './monitor.js';
export { coldStart } from './cold-start.js';
export { batch } from './batch.js';
export { failover } from './failover.js';
export { host } from './host.js';
export { observability } from './observability.js';
