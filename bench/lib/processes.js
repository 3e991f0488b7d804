/**
 * The servers the benchmarks run in their own processes: the loopback model server (so the
 * clients' work never delays its timers) and Portkey's gateway, the peer.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { benchDir, freePort, repoRoot, track, waitForPort } from './setup.js';

/**
 * @typedef {object} ServerProcess
 * @property {string} baseURL
 * @property {number} port
 * @property {() => Promise<import('./loopback-server.js').LoopbackStats>} stats
 * @property {() => Promise<void>} close
 */

/**
 * Starts bench/lib/loopback-server.js in a child process.
 * @param {import('./loopback-server.js').LoopbackOptions} options
 * @returns {Promise<ServerProcess>}
 */
export async function spawnLoopbackServer(options) {
  const child = track(spawn(process.execPath, [join(benchDir, 'lib', 'loopback-server.js'), JSON.stringify(options)], { stdio: ['pipe', 'pipe', 'inherit'] }));
  const lines = createInterface({ input: /** @type {NodeJS.ReadableStream} */ (child.stdout) });
  /** @type {Array<(line: string) => void>} */
  const waiting = [];
  lines.on('line', (line) => waiting.shift()?.(line));
  const next = () => new Promise((resolve) => waiting.push(resolve));
  const { port } = JSON.parse(/** @type {string} */ (await next()));
  return {
    port,
    baseURL: `http://127.0.0.1:${port}/v1`,
    async stats() {
      const line = next();
      child.stdin?.write('stats\n');
      return JSON.parse(/** @type {string} */ (await line));
    },
    close: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve(undefined));
        child.stdin?.end();
      }),
  };
}

/**
 * @typedef {object} Portkey
 * @property {string} baseURL the gateway's /v1
 * @property {(upstream: string) => Record<string, string>} headers what routes a request to an OpenAI-compatible upstream
 * @property {() => Promise<void>} close
 */

/**
 * Starts Portkey's open-source gateway (node_modules/@portkey-ai/gateway) on 127.0.0.1, headless,
 * with bench/lib/portkey-preload.js (loopback only; the fix for its immutable-headers bug).
 * @returns {Promise<Portkey>}
 */
export async function startPortkey() {
  const port = await freePort();
  const entry = join(repoRoot, 'node_modules', '@portkey-ai', 'gateway', 'build', 'start-server.js');
  const child = track(
    spawn(process.execPath, ['--import', join(benchDir, 'lib', 'portkey-preload.js'), entry, `--port=${port}`, '--headless'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    }),
  );
  let stderr = '';
  child.stderr?.on('data', (chunk) => (stderr = (stderr + chunk).slice(-4000)));
  try {
    await waitForPort(port, 20_000);
  } catch (error) {
    child.kill();
    throw new Error(`Portkey's gateway did not start: ${/** @type {Error} */ (error).message}\n${stderr}`, { cause: error });
  }
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    headers: (upstream) => ({ 'x-portkey-provider': 'openai', 'x-portkey-custom-host': upstream }),
    close: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(undefined);
        child.once('exit', () => resolve(undefined));
        child.kill();
      }),
  };
}

/**
 * The CPU time (ms) a process has used so far, all its threads: the sum of their
 * /proc/PID/task/TID/schedstat (time on a CPU, in ns; exact, where /proc/PID/stat counts 10 ms
 * ticks). Linux only; NaN elsewhere or once the process is gone.
 * @param {number} pid
 */
export function cpuMs(pid) {
  let ns = 0;
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // a thread that ended meanwhile
      }
    }
  } catch {
    return Number.NaN;
  }
  return ns / 1e6;
}
