/**
 * Vitest global setup: compiles the sources to dist/ once per run (`tsc -p tsconfig.build.json`),
 * because suites spawn the real `node dist/rpc/bin.js`. tsc emits even when some file does not
 * type-check (`npm run typecheck` is the check for that); the setup fails only if the binary the
 * suites run is missing afterwards.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export default async function setup(): Promise<void> {
  // `npm test` (scripts/test.js) has just built dist/ and runs the Node and Deno suites at once: neither builds it again.
  if (process.env['MAI_TEST_BUILT'] === '1' && existsSync(join(root, 'dist', 'rpc', 'bin.js'))) return;
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const output = await new Promise<string>((done) => {
    execFile(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      done(error ? `${stdout}${stderr}` : '');
    });
  });
  if (output.trim() !== '') process.stderr.write(`[global-setup] tsc reported (dist/ was still emitted):\n${output}\n`);
  if (!existsSync(join(root, 'dist', 'rpc', 'bin.js'))) {
    throw new Error(`The build did not produce dist/rpc/bin.js; the suites that spawn Mai cannot run.\n${output}`);
  }
}
