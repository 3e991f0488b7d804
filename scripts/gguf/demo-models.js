/**
 * The two demo models Mai writes on a fresh machine, and the function that writes them into a
 * folder unless another model is already there. Their weights are random: their answers are noise.
 */
import { mkdir, open, readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { ValueType } from './constants.js';
import { buildTinyLlama, DEMO_REVISION } from './tiny-llama.js';
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

/** The `mai.demo.revision` entry as the writer encodes it (key length, key, type, value), which a current demo file's header holds. */
const REVISION_ENTRY = (() => {
  const key = Buffer.from('mai.demo.revision', 'utf8');
  const entry = Buffer.alloc(8 + key.length + 8);
  entry.writeBigUInt64LE(BigInt(key.length), 0);
  key.copy(entry, 8);
  entry.writeUInt32LE(ValueType.UINT32, 8 + key.length);
  entry.writeUInt32LE(DEMO_REVISION, 12 + key.length);
  return entry;
})();

/**
 * What is at `path`: a demo model of the current revision, a demo model of an older one (its metadata comes
 * before the vocabulary, in the first 4 KiB), another GGUF file (someone's own, kept), or nothing usable.
 * @param {string} path @returns {Promise<'current' | 'older' | 'other' | 'none'>}
 */
async function demoFileState(path) {
  try {
    const handle = await open(path, 'r');
    try {
      const { buffer, bytesRead } = await handle.read(Buffer.alloc(4096), 0, 4096, 0);
      if (bytesRead < 4 || buffer.toString('latin1', 0, 4) !== 'GGUF') return 'none';
      const header = buffer.subarray(0, bytesRead);
      if (header.includes(REVISION_ENTRY)) return 'current';
      return header.includes('mai.demo') ? 'older' : 'other';
    } finally {
      await handle.close();
    }
  } catch {
    return 'none';
  }
}

/**
 * Writes the demo models into `dir` when no other model is there. Idempotent: demo files already
 * present are kept (unless `force`, or they are of an older revision of the demo weights: written
 * again), and nothing is written next to a real model.
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
    const state = options.force ? 'none' : await demoFileState(path);
    if (state === 'current' || state === 'other') {
      kept.push(path);
      log(`${path} is already there.`);
      continue;
    }
    const result = await writeDemoModel(dir, spec);
    written.push(result.path);
    const why = state === 'older' ? ' over an older demo model (its answers could end before they began)' : '';
    log(`wrote ${result.path}${why} (${(result.sizeBytes / 1024 / 1024).toFixed(2)} MB, random weights: its answers are noise).`);
  }
  return { written, kept };
}
