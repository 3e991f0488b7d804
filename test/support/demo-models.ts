/**
 * The demo GGUF models as test fixtures: generated once per test run and copied into each test's own
 * folder, instead of generated again by every file that needs them (building the large model's
 * seeded random weights is ~0.12 CPU-s a time, the small one's ~0.04). The global setup names a
 * run-scoped folder in MAI_TEST_DEMO_MODELS (and removes it at the end); the first file to ask for a
 * model writes it there with the project's writer (scripts/gguf), under a temporary name renamed into
 * place, so workers that ask at once never read a half-written file. Each test still gets its own real
 * file (a copy, not a link: discovery tests count links apart). Without the variable (a file run under
 * another config) the model is written straight into the test's folder, as before.
 * Files that test the writer itself (gguf-metadata's round trips) call writeDemoModel.
 */
import { copyFile, mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DEMO_MODELS, writeDemoModel } from '../../scripts/gguf/index.js';

export type DemoModelSpec = (typeof DEMO_MODELS)[number];

/** The environment variable global-setup.ts sets to the run's fixture folder. */
export const DEMO_MODELS_ENV = 'MAI_TEST_DEMO_MODELS';

const pending = new Map<string, Promise<string>>();

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}

/** The run's shared copy of `spec`, written there first if no worker has yet. */
function fixtureOf(root: string, spec: DemoModelSpec): Promise<string> {
  const key = `${root}\0${spec.id}`;
  let made = pending.get(key);
  if (!made) {
    made = (async () => {
      const path = join(root, `${spec.id}.gguf`);
      if (await exists(path)) return path;
      await mkdir(root, { recursive: true });
      const scratch = await mkdtemp(join(root, '.writing-'));
      try {
        const written = await writeDemoModel(scratch, spec);
        await rename(written.path, path);
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
      return path;
    })();
    made.catch(() => pending.delete(key));
    pending.set(key, made);
  }
  return made;
}

/**
 * Puts the demo model `spec` into `dir` as `<id>.gguf` (the name writeDemoModel gives it), with the
 * bytes writeDemoModel writes, and returns its path.
 */
export async function putDemoModel(dir: string, spec: DemoModelSpec): Promise<string> {
  const root = process.env[DEMO_MODELS_ENV];
  if (!root) return (await writeDemoModel(dir, spec)).path;
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${spec.id}.gguf`);
  await copyFile(await fixtureOf(root, spec), path);
  return path;
}

/** Puts both demo models into `dir`. */
export async function putDemoModels(dir: string): Promise<void> {
  for (const spec of DEMO_MODELS) await putDemoModel(dir, spec);
}
