/**
 * Finds GGUF models on disk: `.gguf` files under the configured folders and LM Studio's model
 * folders (publisher/repo/file.gguf), and Ollama's models through its manifests
 * (manifests/<host>/<namespace>/<name>/<tag> → the layer of media type
 * application/vnd.ollama.image.model → blobs/sha256-<digest>). Folders that do not exist are
 * skipped quietly; unreadable manifests are reported as problems, never fatal.
 */
import type { Dirent } from 'node:fs';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';

export type GgufSource = 'folder' | 'lmstudio' | 'ollama';

export interface GgufRoots {
  folders: readonly string[];
  lmStudio: readonly string[];
  ollama: readonly string[];
}

export interface DiscoveredGguf {
  /** The id Mai lists it under: the file name without `.gguf`, or Ollama's `name:tag`. */
  id: string;
  /** The file to load (the first part of a split model). */
  file: string;
  /** Every part of a split model (just `file` otherwise). */
  parts: string[];
  source: GgufSource;
}

export interface Discovery {
  models: DiscoveredGguf[];
  /** Things found but not usable (an unreadable manifest, a missing blob), for the log. */
  problems: string[];
}

const OLLAMA_MODEL_LAYER = 'application/vnd.ollama.image.model';
const SPLIT = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/i;
const MAX_DEPTH = 4;

/** `~/x` → the home folder; relative paths against `baseDir`. */
export function expandPath(path: string, baseDir: string): string {
  if (path === '~' || path.startsWith('~/')) return join(homedir(), path.slice(1));
  return isAbsolute(path) ? path : resolve(baseDir, path);
}

/** Where LM Studio and Ollama keep their models by default on this machine. */
export function defaultRoots(env: Readonly<Record<string, string | undefined>>): Pick<GgufRoots, 'lmStudio' | 'ollama'> {
  const home = env.HOME || homedir(); // HOME first: Deno asks --allow-sys=homedir for homedir()
  return {
    lmStudio: [join(home, '.lmstudio', 'models'), join(home, '.cache', 'lm-studio', 'models')],
    ollama: [env.OLLAMA_MODELS || join(home, '.ollama', 'models')],
  };
}

async function entriesOf(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

/** Every `.gguf` under `dir` (skipping hidden folders and multimodal projectors), split parts grouped. */
async function scanFolder(root: string, source: GgufSource): Promise<DiscoveredGguf[]> {
  const files: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    for (const entry of await entriesOf(dir)) {
      if (entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      let isFile = entry.isFile();
      let isDir = entry.isDirectory();
      if (entry.isSymbolicLink()) {
        const target = await stat(path).catch(() => null);
        isFile = target?.isFile() ?? false;
        isDir = target?.isDirectory() ?? false;
      }
      if (isFile && /\.gguf$/i.test(entry.name) && !/^mmproj/i.test(entry.name)) files.push(path);
      else if (isDir && depth < MAX_DEPTH) await walk(path, depth + 1);
    }
  };
  await walk(root, 0);
  files.sort();
  const found: DiscoveredGguf[] = [];
  for (const file of files) {
    const split = SPLIT.exec(basename(file));
    if (split) {
      if (split[2] !== '00001') continue;
      const parts = files.filter((f) => dirname(f) === dirname(file) && SPLIT.exec(basename(f))?.[1] === split[1]);
      found.push({ id: split[1]!, file, parts, source });
    } else {
      found.push({ id: basename(file).replace(/\.gguf$/i, ''), file, parts: [file], source });
    }
  }
  return found;
}

interface OllamaManifest {
  layers?: Array<{ mediaType?: unknown; digest?: unknown }>;
}

/** Ollama's models, each as `name:tag` (with `namespace/` or `host/namespace/` when not the library). */
async function scanOllama(root: string, problems: string[]): Promise<DiscoveredGguf[]> {
  const manifests = join(root, 'manifests');
  const found: DiscoveredGguf[] = [];
  for (const host of await entriesOf(manifests)) {
    if (!host.isDirectory()) continue;
    for (const namespace of await entriesOf(join(manifests, host.name))) {
      if (!namespace.isDirectory()) continue;
      for (const name of await entriesOf(join(manifests, host.name, namespace.name))) {
        if (!name.isDirectory()) continue;
        for (const tag of await entriesOf(join(manifests, host.name, namespace.name, name.name))) {
          if (!tag.isFile()) continue;
          const manifestFile = join(manifests, host.name, namespace.name, name.name, tag.name);
          const prefix =
            host.name === 'registry.ollama.ai' ? (namespace.name === 'library' ? '' : `${namespace.name}/`) : `${host.name}/${namespace.name}/`;
          const id = `${prefix}${name.name}:${tag.name}`;
          let manifest: OllamaManifest;
          try {
            manifest = JSON.parse(await readFile(manifestFile, 'utf8')) as OllamaManifest;
          } catch (error) {
            problems.push(`Ollama manifest ${manifestFile} is unreadable: ${(error as Error).message}`);
            continue;
          }
          const layer = manifest.layers?.find((l) => l.mediaType === OLLAMA_MODEL_LAYER);
          const digest = typeof layer?.digest === 'string' ? layer.digest : undefined;
          if (!digest || !/^sha256:[0-9a-f]{64}$/i.test(digest)) {
            problems.push(`Ollama manifest ${manifestFile} (${id}) has no model layer with a sha256 digest.`);
            continue;
          }
          const blob = join(root, 'blobs', digest.replace(':', '-'));
          const info = await stat(blob).catch(() => null);
          if (!info?.isFile()) {
            problems.push(`Ollama model ${id}: its blob ${blob} is missing (run \`ollama pull ${id}\` again).`);
            continue;
          }
          found.push({ id, file: blob, parts: [blob], source: 'ollama' });
        }
      }
    }
  }
  return found;
}

/**
 * Everything under the roots, in root order, with unique ids. A file found twice in folders (a
 * symlink, a folder inside another) is listed once; Ollama's tags are all listed, as `ollama list`
 * does, even when two tags share a blob.
 */
export async function discoverGguf(roots: GgufRoots): Promise<Discovery> {
  const problems: string[] = [];
  const batches: DiscoveredGguf[][] = [];
  for (const folder of roots.folders) batches.push(await scanFolder(folder, 'folder'));
  for (const folder of roots.lmStudio) batches.push(await scanFolder(folder, 'lmstudio'));
  for (const folder of roots.ollama) batches.push(await scanOllama(folder, problems));
  const seenFiles = new Set<string>();
  const ids = new Set<string>();
  const models: DiscoveredGguf[] = [];
  for (const model of batches.flat()) {
    if (model.source !== 'ollama') {
      const real = await realpath(model.file).catch(() => model.file);
      if (seenFiles.has(real)) continue;
      seenFiles.add(real);
    }
    let id = model.id;
    if (ids.has(id)) id = `${basename(dirname(model.file))}/${model.id}`;
    if (ids.has(id)) id = `${model.source}:${relative(homedir(), model.file)}`;
    ids.add(id);
    models.push({ ...model, id });
  }
  return { models, problems };
}
