/**
 * Vitest global setup: builds dist/ once per run (`node scripts/build.js`: tsc file by file, then
 * the bundle the `mai` bin runs), because suites spawn the real `mai` (package.json's bin). tsc
 * emits even when some file does not type-check (`npm run typecheck` is the check for that); the
 * setup fails only if the binary the suites run is missing afterwards.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const bin = join(root, (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: { mai: string } }).bin.mai);

export default async function setup(): Promise<void> {
  // `npm test` (scripts/test.js) has just built dist/ and runs the Node and Deno suites at once: neither builds it again.
  if (process.env['MAI_TEST_BUILT'] === '1' && existsSync(bin)) return;
  const output = await new Promise<string>((done) => {
    execFile(process.execPath, [join(root, 'scripts', 'build.js')], { cwd: root, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      done(error ? `${stdout}${stderr}` : '');
    });
  });
  if (output.trim() !== '') process.stderr.write(`[global-setup] the build reported (dist/ was still emitted):\n${output}\n`);
  if (!existsSync(bin)) {
    throw new Error(`The build did not produce ${bin}; the suites that spawn Mai cannot run.\n${output}`);
  }
}
