/**
 * Which build of Mai a process runs: the id scripts/build.js writes beside the bundle
 * (dist/bundle/build-id.txt, a hash of the bundle's files). Two builds of one version differ in
 * their chunks, which a process loads lazily: a host started from an older build may import a
 * chunk a rebuild removed. So a client's hello names its build, and a host whose own build is no
 * longer the one on disk leaves its socket to a new host (host.ts). The sources (Deno, tests) and
 * the per-file build have no id: no check. Free of zod and Mai's core (the forwarder loads it).
 */
import { readFileSync } from 'node:fs';
import { fromSources } from '../../core/package-root.ts';

/** Where the bundle's id is: beside this code when it runs from the bundle (absent elsewhere). */
const ID_FILE = new URL('./build-id.txt', import.meta.url);

/** The build id on disk now, or undefined (the sources, the per-file build, a bundle without one). */
export function buildOnDisk(): string | undefined {
  if (fromSources) return undefined;
  try {
    return readFileSync(ID_FILE, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The build this process loaded: the id as it was when this module was first evaluated. */
export const runningBuild: string | undefined = buildOnDisk();
