/**
 * Reads what Mai needs to know of a GGUF model without loading it: the header, the metadata and
 * the tensor infos (never the weights), streamed through a file handle. From them: layers, heads,
 * KV heads, embedding size, context length, file size, quantization and whether the file carries
 * a chat template — what memory estimates and the catalogue use. A corrupt or truncated file is
 * a MaiError naming the file and the byte where it went wrong.
 */
import { open, stat } from 'node:fs/promises';
import { ErrorCodes, MaiError } from '../../core/errors.ts';
import type { ModelArchitecture } from '../../core/types.ts';
import { GgufByteReader } from './gguf-byte-reader.ts';
import { fileTypeName, GgufValueType, ggmlTypeName, tensorByteSize, valueTypeSizes } from './gguf-types.ts';

/** An array too long to keep (a vocabulary): only its item type and length. */
export interface GgufSkipped {
  skipped: 'array' | 'string';
  length: number;
}
export type GgufValue = string | number | bigint | boolean | GgufValue[] | GgufSkipped;

export interface GgufTensorInfo {
  name: string;
  /** ggml order: dims[0] is the row length. */
  dims: number[];
  type: number;
  /** Relative to the start of the tensor data. */
  offset: number;
}

export interface GgufHeader {
  file: string;
  sizeBytes: number;
  version: number;
  alignment: number;
  metadata: ReadonlyMap<string, GgufValue>;
  tensors: GgufTensorInfo[];
  /** Absolute file offset where the tensor data starts. */
  dataOffset: number;
}

export interface GgufModelInfo {
  file: string;
  sizeBytes: number;
  architecture: string;
  name?: string;
  contextLength?: number;
  layers?: number;
  heads?: number;
  kvHeads?: number;
  embeddingSize?: number;
  feedForwardLength?: number;
  vocabSize?: number;
  fileType?: number;
  /** The file type's name (Q4_K_M, F16…), else the type most of the weights have. */
  quantization?: string;
  hasChatTemplate: boolean;
  parameters: number;
  tensorCount: number;
  /** Parts of a split model (split.count), 1 for a single file. */
  splitCount: number;
  /** Written by Mai's demo-model script (metadata `mai.demo`): random weights. */
  demo: boolean;
  /** The tier the file declares (metadata `mai.tier`, which Mai's demo models carry). */
  tier?: 'small' | 'medium' | 'large';
}

const MAGIC = 0x46554747; // "GGUF", little-endian
const DEFAULT_ALIGNMENT = 32;
const MAX_DIMS = 4;
/** Arrays longer than this are skipped (vocabularies, merges); shorter ones are kept. */
const KEEP_ARRAY_ITEMS = 256;
/** Strings longer than this are skipped (an embedded tokenizer.json); chat templates are far shorter. */
const KEEP_STRING_BYTES = 1024 * 1024;

async function readValue(reader: GgufByteReader, type: number, what: string, depth = 0): Promise<GgufValue> {
  if (type === GgufValueType.string) {
    const value = await reader.stringOrLength(what, KEEP_STRING_BYTES);
    return typeof value === 'string' ? value : { skipped: 'string', length: value.length };
  }
  if (type !== GgufValueType.array) return reader.scalar(type, what);
  if (depth > 4) throw reader.corrupt(`${what} nests arrays too deeply`);
  const itemType = await reader.u32(`the item type of ${what}`);
  const length = await reader.u64(`the length of ${what}`);
  const itemSize = itemType === GgufValueType.string ? 8 : itemType === GgufValueType.array ? 12 : valueTypeSizes[itemType];
  if (itemSize === undefined) throw reader.corrupt(`${what} has unknown item type ${itemType}`);
  if (length * itemSize > reader.remaining) throw reader.corrupt(`${what} claims ${length} items, more than the file can hold`);
  if (length > KEEP_ARRAY_ITEMS) {
    if (itemType !== GgufValueType.string && itemType !== GgufValueType.array) reader.skip(length * itemSize, what);
    else for (let i = 0; i < length; i++) await skipValue(reader, itemType, what, depth + 1);
    return { skipped: 'array', length };
  }
  const items: GgufValue[] = [];
  for (let i = 0; i < length; i++) items.push(await readValue(reader, itemType, `${what}[${i}]`, depth + 1));
  return items;
}

async function skipValue(reader: GgufByteReader, type: number, what: string, depth: number): Promise<void> {
  if (type === GgufValueType.string) {
    reader.skip(await reader.u64(`the length of a string in ${what}`), what);
  } else {
    await readValue(reader, type, what, depth);
  }
}

/** Reads the header, metadata and tensor infos of a GGUF file (v2 or v3, little-endian). */
export async function readGgufHeader(file: string): Promise<GgufHeader> {
  let sizeBytes: number;
  let handle;
  try {
    sizeBytes = (await stat(file)).size;
    handle = await open(file, 'r');
  } catch (cause) {
    throw new MaiError(ErrorCodes.modelNotFound, `Cannot read the model file ${file}: ${(cause as Error).message}`, {
      cause,
      data: { file },
    });
  }
  try {
    const reader = new GgufByteReader(handle, file, sizeBytes);
    if (sizeBytes < 24) throw reader.corrupt('it is too short to hold a GGUF header');
    const magic = await reader.u32('the magic number');
    if (magic !== MAGIC) throw reader.corrupt('it does not start with "GGUF"');
    const version = await reader.u32('the version');
    if (version === 1) throw reader.corrupt('it is GGUF version 1, which is no longer supported; convert the model again');
    if (version !== 2 && version !== 3) {
      const swapped = ((version & 0xff) << 24) | ((version & 0xff00) << 8) | ((version >>> 8) & 0xff00) | (version >>> 24);
      throw reader.corrupt(swapped === 2 || swapped === 3 ? 'it is a big-endian GGUF, which Mai cannot read' : `unknown GGUF version ${version}`);
    }
    const tensorCount = await reader.u64('the tensor count');
    const kvCount = await reader.u64('the metadata count');
    if (kvCount * 13 > reader.remaining) throw reader.corrupt(`it claims ${kvCount} metadata entries, more than the file can hold`);
    if (tensorCount * 32 > reader.remaining) throw reader.corrupt(`it claims ${tensorCount} tensors, more than the file can hold`);
    const metadata = new Map<string, GgufValue>();
    for (let i = 0; i < kvCount; i++) {
      const key = await reader.string(`the key of metadata entry ${i}`, 65_535);
      const type = await reader.u32(`the type of ${key}`);
      metadata.set(key, await readValue(reader, type, key));
    }
    const alignmentValue = metadata.get('general.alignment');
    const alignment = alignmentValue === undefined ? DEFAULT_ALIGNMENT : Number(alignmentValue);
    if (!Number.isInteger(alignment) || alignment <= 0 || alignment % 8 !== 0) {
      throw reader.corrupt(`general.alignment is ${String(alignmentValue)}, not a positive multiple of 8`);
    }
    const tensors: GgufTensorInfo[] = [];
    for (let i = 0; i < tensorCount; i++) {
      const name = await reader.string(`the name of tensor ${i}`, 1024);
      const nDims = await reader.u32(`the dimension count of ${name}`);
      if (nDims > MAX_DIMS) throw reader.corrupt(`tensor ${name} has ${nDims} dimensions (at most ${MAX_DIMS})`);
      const dims: number[] = [];
      for (let d = 0; d < nDims; d++) dims.push(await reader.u64(`dimension ${d} of ${name}`));
      const type = await reader.u32(`the type of ${name}`);
      const offset = await reader.u64(`the offset of ${name}`);
      if (offset % alignment !== 0) throw reader.corrupt(`tensor ${name}'s offset ${offset} is not a multiple of the alignment ${alignment}`);
      tensors.push({ name, dims, type, offset });
    }
    const dataOffset = Math.ceil(reader.position / alignment) * alignment;
    const dataBytes = sizeBytes - dataOffset;
    for (const tensor of tensors) {
      const bytes = tensorByteSize(tensor.type, tensor.dims);
      if (bytes !== undefined && tensor.offset + bytes > dataBytes) {
        throw reader.corrupt(
          `tensor ${tensor.name} (${ggmlTypeName(tensor.type)}, ${tensor.dims.join('×')}) needs bytes up to ${dataOffset + tensor.offset + bytes}; the file is truncated`,
          sizeBytes,
        );
      }
    }
    return { file, sizeBytes, version, alignment, metadata, tensors, dataOffset };
  } finally {
    await handle.close();
  }
}

function numberOf(value: GgufValue | undefined): number | undefined {
  if (typeof value === 'number' || typeof value === 'bigint') return Number(value);
  // Per-layer values (head_count_kv, feed_forward_length in some models): the largest.
  if (Array.isArray(value)) {
    const numbers = value.map(numberOf).filter((n): n is number => n !== undefined);
    return numbers.length ? Math.max(...numbers) : undefined;
  }
  return undefined;
}

function lengthOf(value: GgufValue | undefined): number | undefined {
  if (Array.isArray(value)) return value.length;
  if (typeof value === 'object' && value !== null && 'skipped' in value) return value.length;
  return undefined;
}

/** The quantization most of the weights have, by bytes, when general.file_type is absent. */
function dominantTensorType(tensors: readonly GgufTensorInfo[]): string | undefined {
  const bytes = new Map<number, number>();
  for (const t of tensors) {
    if (t.dims.length < 2) continue;
    bytes.set(t.type, (bytes.get(t.type) ?? 0) + (tensorByteSize(t.type, t.dims) ?? 0));
  }
  const [top] = [...bytes.entries()].sort((a, b) => b[1] - a[1]);
  return top ? ggmlTypeName(top[0]) : undefined;
}

/** What Mai reports of a model, from its header. */
export function describeGgufModel(header: GgufHeader): GgufModelInfo {
  const m = header.metadata;
  const architecture = m.get('general.architecture');
  if (typeof architecture !== 'string' || architecture === '') {
    throw new MaiError(ErrorCodes.badRequest, `${header.file} has no general.architecture: it is not a model GGUF Mai can run.`, {
      retryable: false,
      data: { file: header.file },
    });
  }
  const key = (name: string) => numberOf(m.get(`${architecture}.${name}`));
  const fileType = numberOf(m.get('general.file_type'));
  const vocabSize = key('vocab_size') ?? lengthOf(m.get('tokenizer.ggml.tokens'));
  const name = m.get('general.name');
  const template = m.get('tokenizer.chat_template');
  const quantization = (fileType === undefined ? undefined : fileTypeName(fileType)) ?? dominantTensorType(header.tensors);
  const info: GgufModelInfo = {
    file: header.file,
    sizeBytes: header.sizeBytes,
    architecture,
    hasChatTemplate: typeof template === 'string' ? template.length > 0 : template !== undefined,
    parameters: header.tensors.reduce((sum, t) => sum + t.dims.reduce((a, b) => a * b, 1), 0),
    tensorCount: header.tensors.length,
    splitCount: numberOf(m.get('split.count')) ?? 1,
    demo: m.get('mai.demo') === true,
  };
  const tier = m.get('mai.tier');
  if (tier === 'small' || tier === 'medium' || tier === 'large') info.tier = tier;
  // Keys the file may not have: copied onto info only when present.
  const optional: { [K in keyof GgufModelInfo]?: GgufModelInfo[K] | undefined } = {
    name: typeof name === 'string' ? name : undefined,
    contextLength: key('context_length'),
    layers: key('block_count'),
    heads: key('attention.head_count'),
    kvHeads: key('attention.head_count_kv') ?? key('attention.head_count'),
    embeddingSize: key('embedding_length'),
    feedForwardLength: key('feed_forward_length'),
    vocabSize,
    fileType,
    quantization,
  };
  for (const [k, v] of Object.entries(optional)) if (v !== undefined) Object.assign(info, { [k]: v });
  return info;
}

export async function readGgufModelInfo(file: string): Promise<GgufModelInfo> {
  return describeGgufModel(await readGgufHeader(file));
}

/** The architecture fields the resource scorer estimates memory from (KV cache in f16). */
export function architectureOf(info: GgufModelInfo): ModelArchitecture {
  const arch: ModelArchitecture = { kvBytesPerElement: 2 };
  if (info.layers !== undefined) arch.layers = info.layers;
  if (info.heads !== undefined) arch.heads = info.heads;
  if (info.kvHeads !== undefined) arch.kvHeads = info.kvHeads;
  if (info.embeddingSize !== undefined) arch.embeddingSize = info.embeddingSize;
  return arch;
}
