/**
 * What the runtime lets Mai do. Node grants everything. Deno grants what its flags say, and a call
 * that needs a missing permission throws NotCapable — sometimes from inside a library's callback
 * (systeminformation calls node:os in process.nextTick) where nobody can catch it, or it silently
 * answers nothing (systeminformation's shell commands). So Mai asks before such a call and reports
 * the metric or feature as unavailable, naming the flag that would grant it.
 * Plain JavaScript with JSDoc types: the sampling worker (sample.worker.js) imports it.
 */

/**
 * @typedef {{ name: 'sys', kind: string }
 *   | { name: 'run', command?: string }
 *   | { name: 'ffi', path?: string }} PermissionDescriptor
 */

/**
 * @typedef {object} DenoLike
 * @property {{ querySync(descriptor: PermissionDescriptor): { state: string } }} permissions
 * @property {() => string} execPath
 */

const deno = /** @type {{ Deno?: DenoLike }} */ (/** @type {unknown} */ (globalThis)).Deno;

/** True under Deno (its `Deno` global), false under Node. */
export const isDeno = deno !== undefined;

/**
 * Null when granted (always under Node); otherwise the Deno flag that grants it.
 * @param {PermissionDescriptor} descriptor
 * @returns {string | null}
 */
export function missingPermission(descriptor) {
  if (!deno) return null;
  try {
    if (deno.permissions.querySync(descriptor).state === 'granted') return null;
  } catch {
    // A descriptor this Deno does not know: treat it as not granted.
  }
  if (descriptor.name === 'sys') return `--allow-sys=${descriptor.kind}`;
  return `--allow-${descriptor.name}`;
}

/**
 * Why `what` cannot be done here — the Deno flags it lacks (sys kinds merged into one flag) — or
 * null when every descriptor is granted.
 * @param {string} what what cannot be done without them
 * @param {PermissionDescriptor[]} descriptors
 * @returns {string | null}
 */
export function deniedBecause(what, descriptors) {
  /** @type {string[]} */
  const sysKinds = [];
  /** @type {string[]} */
  const flags = [];
  for (const descriptor of descriptors) {
    const flag = missingPermission(descriptor);
    if (!flag) continue;
    if (descriptor.name === 'sys') sysKinds.push(descriptor.kind);
    else if (!flags.includes(flag)) flags.push(flag);
  }
  if (sysKinds.length) flags.unshift(`--allow-sys=${sysKinds.join(',')}`);
  if (!flags.length) return null;
  const list = flags.length > 1 ? `${flags.slice(0, -1).join(', ')} and ${flags[flags.length - 1]}` : flags[0];
  return `${what} needs Deno's ${list} permission${flags.length > 1 ? 's' : ''}`;
}

/** Deno's own executable (what a forked child runs), or null under Node. */
export function denoExecPath() {
  return deno ? deno.execPath() : null;
}
