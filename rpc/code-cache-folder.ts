/**
 * Where the bin's V8 code cache lives and what an entry of it is (rpc/code-cache.ts loads and writes
 * them): one folder per build × Node version × architecture × install under $XDG_CACHE_HOME/mai/v8 (default
 * ~/.cache/mai/v8), one entry per chunk, and the folders of other builds removed once stale.
 * Zod-free and Mai-free: the thin `mai serve` forwarder loads it.
 */
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';

/** Entries of other builds not written for this long are removed when an entry is written. */
const STALE_MS = 7 * 24 * 3600_000;

const HEAD = 12;

/**
 * An entry is the CRC-32 of the chunk's source, the CRC-32 of V8's data, its writer's bytecode size, then the data.
 * V8 checks a header (its version, the flags, the source's length, the data's length) but not, in a
 * release build, the bytes after it, nor the source's content: damaged bytes of the right length would
 * reach the compiler, and a chunk edited in place to the same length (an install changed under its
 * build id) would run its old code. Either is treated as no entry.
 */
export function readEntry(entry: string, sourceCrc: number): { data: Buffer; writerBytecode: number } | 'missing' | 'rejected' {
  let bytes: Buffer;
  try {
    bytes = readFileSync(entry);
  } catch {
    return 'missing';
  }
  if (bytes.length <= HEAD || bytes.readUInt32LE(0) !== sourceCrc) return 'rejected';
  const data = bytes.subarray(HEAD);
  return bytes.readUInt32LE(4) === crc32(data) ? { data, writerBytecode: bytes.readUInt32LE(8) } : 'rejected';
}

export function entryBytes(sourceCrc: number, data: Buffer, writerBytecode: number): Buffer {
  const head = Buffer.alloc(HEAD);
  head.writeUInt32LE(sourceCrc, 0);
  head.writeUInt32LE(crc32(data), 4);
  head.writeUInt32LE(Math.min(writerBytecode, 0xffffffff), 8);
  return Buffer.concat([head, data]);
}

/**
 * Where the entries of this install of a build go: $XDG_CACHE_HOME/mai/v8/<build>-<node version>-<arch>-<place>,
 * <place> the CRC-32 of the bundle's folder. Code compiled from an entry keeps the file names of the process
 * that wrote it (V8 does not rename what it deserialises): two installs of one build at two paths sharing a
 * folder would each print the other's paths in their stack traces.
 */
export function codeCacheDir(build: string, bundleDir: string, env: Readonly<Record<string, string | undefined>> = process.env): string {
  const base = env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache');
  const place = crc32(bundleDir).toString(16).padStart(8, '0');
  return join(base, 'mai', 'v8', `${build}-node${process.version}-${process.arch}-${place}`);
}

/** Removes the folders of other builds (or Node versions) that nothing wrote to for STALE_MS. */
export function pruneOtherBuilds(dir: string): void {
  const parent = dirname(dir);
  for (const name of readdirSync(parent)) {
    const other = join(parent, name);
    if (other === dir) continue;
    try {
      if (Date.now() - statSync(other).mtimeMs > STALE_MS) rmSync(other, { recursive: true, force: true });
    } catch {
      // gone meanwhile, or not ours to remove
    }
  }
}
