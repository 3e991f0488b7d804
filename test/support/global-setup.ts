/**
 * Vitest global setup: builds dist/ once per run (`node scripts/build.js`: tsc file by file, then
 * the bundle the `mai` bin runs), because suites spawn the real `mai` (package.json's bin). tsc
 * emits even when some file does not type-check (`npm run typecheck` is the check for that); the
 * setup fails only if the binary the suites run is missing afterwards.
 * Under Deno it also names Deno's cache folder (DENO_DIR) for the whole run; see shareDenoCache.
 * It names the run's folder for the demo GGUF fixtures (test/support/demo-models.ts), empty until a
 * file asks for a model, and removes it when the run ends.
 * On Node the `mai` processes share one V8 code cache folder for the run; see shareCodeCache.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const bin = join(root, (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: { mai: string } }).bin.mai);

/**
 * Every Deno process of the Deno suite (its test workers, each `mai` they start, the Mai a headless
 * Neovim starts) uses the test runner's own cache folder, where Deno keeps each module's V8 code
 * cache (and the .ts sources' transpiled form). Deno finds that folder from HOME or XDG_CACHE_HOME
 * unless DENO_DIR names it, so a test that gives a process its own HOME (test/editor-nvim.test.ts
 * isolates Neovim's) made that Mai start with an empty cache: ~0.35 CPU-s more per launch (0.7
 * against 0.33 to its initialize reply, measured here), compiling every module again. Set in the
 * environment the workers inherit (vitest builds theirs after the global setup). The runner's folder
 * rather than a fresh temporary one: it stays warm from run to run, where a fresh one would make each
 * run compile the vitest workers, the bundle and the sources once more (+0.4, +0.37 and +0.5 CPU-s).
 */
function shareDenoCache(): void {
  if (!('Deno' in globalThis) || process.env['DENO_DIR']) return;
  try {
    const info = JSON.parse(execFileSync(process.execPath, ['info', '--json'], { encoding: 'utf8' })) as { denoDir?: string };
    if (info.denoDir) process.env['DENO_DIR'] = info.denoDir;
  } catch (error) {
    // Only a cost: each process then finds its own cache folder, as before.
    process.stderr.write(`[global-setup] \`deno info --json\` did not name Deno's cache folder (${String(error)}); DENO_DIR is left unset.\n`);
  }
}

/**
 * The `mai` bin on Node keeps V8's compiled code of its bundle in $XDG_CACHE_HOME/mai (rpc/code-cache.ts):
 * without this it would write to the user's own ~/.cache, outside the run's temporary folders. One
 * folder for the whole run rather than one per test file: the cache changes no behaviour, only the CPU
 * time of each launch, and each file's first `mai` would otherwise compile the bundle again. A test of
 * the cache itself (test/code-cache.test.ts) and a process given its own XDG_CACHE_HOME use theirs.
 * Not under Deno: its `mai` processes keep no such cache, and Deno finds its own from XDG_CACHE_HOME
 * when DENO_DIR is unset.
 */
function shareCodeCache(): (() => void) | undefined {
  if ('Deno' in globalThis) return undefined;
  const folder = mkdtempSync(join(tmpdir(), 'mai-test-cache-'));
  process.env['XDG_CACHE_HOME'] = folder;
  return () => rmSync(folder, { recursive: true, force: true });
}

export default async function setup(): Promise<() => void> {
  shareDenoCache();
  const codeCacheTeardown = shareCodeCache();
  // Set before vitest starts its workers, which inherit it (as DENO_DIR above).
  const demoModels = mkdtempSync(join(tmpdir(), 'mai-test-demo-models-'));
  process.env['MAI_TEST_DEMO_MODELS'] = demoModels; // DEMO_MODELS_ENV, read by demo-models.ts
  const teardown = () => {
    rmSync(demoModels, { recursive: true, force: true });
    codeCacheTeardown?.();
  };
  // `npm test` (scripts/test.js) has just built dist/ and runs the Node and Deno suites at once: neither builds it again.
  if (process.env['MAI_TEST_BUILT'] === '1' && existsSync(bin)) return teardown;
  const output = await new Promise<string>((done) => {
    execFile(process.execPath, [join(root, 'scripts', 'build.js')], { cwd: root, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      done(error ? `${stdout}${stderr}` : '');
    });
  });
  if (output.trim() !== '') process.stderr.write(`[global-setup] the build reported (dist/ was still emitted):\n${output}\n`);
  if (!existsSync(bin)) {
    teardown();
    throw new Error(`The build did not produce ${bin}; the suites that spawn Mai cannot run.\n${output}`);
  }
  return teardown;
}
