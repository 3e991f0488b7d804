/**
 * The two demo models Mai writes on a fresh machine, and the function that writes them into a
 * folder unless another model is already there. Their weights are random: their answers are noise.
 */
import { mkdir, open, readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { buildTinyLlama } from './tiny-llama.js';
import { writeGguf } from './writer.js';

/** @type {readonly import('./tiny-llama.js').TinyLlamaSpec[]} */
export const DEMO_MODELS = Object.freeze([
  { id: 'mai-demo-small', tier: 'small', layers: 2, embedding: 64, heads: 4, kvHeads: 2, feedForward: 192, contextLength: 4096, tensorType: 'F32' },
  { id: 'mai-demo-large', tier: 'large', layers: 4, embedding: 128, heads: 8, kvHeads: 4, feedForward: 384, contextLength: 8192, tensorType: 'F16' },
]);

/**
 * Writes one demo model as `<dir>/<id>.gguf`.
 * @param {string} dir
 * @param {import('./tiny-llama.js').TinyLlamaSpec} spec
 * @returns {Promise<{ path: string, sizeBytes: number }>}
 */
export async function writeDemoModel(dir, spec) {
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${spec.id}.gguf`);
  const { sizeBytes } = await writeGguf(path, buildTinyLlama(spec));
  return { path, sizeBytes };
}

/** @param {string} dir @returns {Promise<string[]>} every .gguf under dir (two levels deep, as LM Studio nests them) */
async function findGgufFiles(dir, depth = 0) {
  /** @type {import('node:fs').Dirent[]} */
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  /** @type {string[]} */
  const found = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isFile() && entry.name.toLowerCase().endsWith('.gguf')) found.push(path);
    else if (entry.isDirectory() && depth < 2) found.push(...(await findGgufFiles(path, depth + 1)));
  }
  return found;
}

/** @param {string} path @returns {Promise<boolean>} whether the file starts with the GGUF magic */
async function looksLikeGguf(path) {
  try {
    const handle = await open(path, 'r');
    try {
      const { buffer, bytesRead } = await handle.read(Buffer.alloc(4), 0, 4, 0);
      return bytesRead === 4 && buffer.toString('latin1') === 'GGUF';
    } finally {
      await handle.close();
    }
  } catch {
    return false;
  }
}

/**
 * Writes the demo models into `dir` when no other model is there. Idempotent: demo files already
 * present are kept (unless `force`), and nothing is written next to a real model.
 * @param {string} dir
 * @param {{ force?: boolean, log?: (line: string) => void }} [options]
 * @returns {Promise<{ written: string[], kept: string[], skippedBecause?: string[] }>}
 */
export async function ensureDemoModels(dir, options = {}) {
  const log = options.log ?? (() => {});
  const demoNames = new Set(DEMO_MODELS.map((m) => `${m.id}.gguf`));
  const present = await findGgufFiles(dir);
  const others = present.filter((path) => !demoNames.has(basename(path)));
  if (others.length > 0 && !options.force) {
    log(`${dir} already has ${others.length} other model(s) (${others.slice(0, 3).join(', ')}${others.length > 3 ? ', …' : ''}): demo models not written.`);
    return { written: [], kept: [], skippedBecause: others };
  }
  /** @type {string[]} */ const written = [];
  /** @type {string[]} */ const kept = [];
  for (const spec of DEMO_MODELS) {
    const path = join(dir, `${spec.id}.gguf`);
    if (!options.force && (await looksLikeGguf(path))) {
      kept.push(path);
      log(`${path} is already there.`);
      continue;
    }
    const result = await writeDemoModel(dir, spec);
    written.push(result.path);
    log(`wrote ${result.path} (${(result.sizeBytes / 1024 / 1024).toFixed(2)} MB, random weights: its answers are noise).`);
  }
  return { written, kept };
}
