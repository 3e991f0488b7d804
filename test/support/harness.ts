/**
 * Helpers shared by the suites: temporary folders, configs written to disk, a Mai on a fixed snapshot.
 * Mai itself (the pipeline, zod, the plugins) is imported only when a test builds one: a suite that
 * needs only a temp folder and a config (most that spawn `mai`) would otherwise load it all per file.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Mai } from '../../core/mai.ts';
import type { FixedMonitor } from '../../core/monitor/resource-monitor.ts';
import { GiB } from '../../core/select/memory-estimate.ts';
import type { ResourceSnapshot } from '../../core/types.ts';

export { GiB };

/**
 * The `deno` binary of the `deno` devDependency (node_modules/.bin/deno links to it). Tests start
 * Deno by this path, not through `npx deno`: npx is a Node process of its own (~0.7 CPU-s a start).
 */
export const denoBin = fileURLToPath(new URL('../../node_modules/.bin/deno', import.meta.url));

export function snapshot(overrides: Partial<ResourceSnapshot> = {}): ResourceSnapshot {
  return { cpuLoad: 0.1, memFreeBytes: 16 * GiB, memTotalBytes: 24 * GiB, gpus: [], sampledAt: Date.now(), ...overrides };
}

export interface TempDir {
  path: string;
  cleanup(): Promise<void>;
}

export async function tempDir(prefix = 'mai-test-'): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

/** Writes `yaml` as mai.config.yaml in `dir` (with the state kept in dir/state) and returns its path. */
export async function writeConfig(dir: string, yaml: string, name = 'mai.config.yaml'): Promise<string> {
  const file = join(dir, name);
  const withState = /\bcontext:/.test(yaml) ? yaml : `${yaml}\ncontext:\n  stateDir: ./state\n`;
  await writeFile(file, withState);
  return file;
}

/** A Mai built from a config on disk, sampling nothing: its monitor answers `resources`. */
export async function createTestMai(dir: string, yaml: string, resources: ResourceSnapshot = snapshot()): Promise<{ mai: Mai; monitor: FixedMonitor; file: string }> {
  const file = await writeConfig(dir, yaml);
  const [{ loadConfig }, { createLogger }, { Mai }, { FixedMonitor }, { builtinPlugins }] = await Promise.all([
    import('../../core/config/load.ts'),
    import('../../core/log.ts'),
    import('../../core/mai.ts'),
    import('../../core/monitor/resource-monitor.ts'),
    import('../../plugins/index.ts'),
  ]);
  const monitor = new FixedMonitor(resources);
  const mai = await Mai.create({ plugins: builtinPlugins, loaded: loadConfig({ flag: file }), log: createLogger('test', 'silent'), createMonitor: () => monitor });
  return { mai, monitor, file };
}
