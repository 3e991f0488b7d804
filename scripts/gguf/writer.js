/**
 * The project's own small GGUF v3 writer: header, typed metadata, tensor infos, then tensor data,
 * each tensor at an offset that is a multiple of the alignment (GGUF spec, ggml docs/gguf.md).
 * Little-endian only. Writes to a temporary file and renames it, so a half-written model never
 * appears under its real name.
 */
import { open, rename, rm } from 'node:fs/promises';
import { DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_VERSION, TensorType, ValueType } from './constants.js';
import { encodeFloat16 } from './float16.js';

/** @typedef {number | bigint | boolean | string} GgufScalar */
/** @typedef {{ key: string, type: number, value: GgufScalar | GgufScalar[], itemType?: number }} GgufEntry */
/** @typedef {{ name: string, type: number, dims: number[], values: Float32Array }} GgufTensor */
/** @typedef {{ metadata: GgufEntry[], tensors: GgufTensor[], alignment?: number }} GgufContent */

/** Builders for metadata entries, typed as llama.cpp expects them (it checks types strictly). */
export const meta = {
  /** @param {string} key @param {number} value @returns {GgufEntry} */
  u32: (key, value) => ({ key, type: ValueType.UINT32, value }),
  /** @param {string} key @param {number} value @returns {GgufEntry} */
  f32: (key, value) => ({ key, type: ValueType.FLOAT32, value }),
  /** @param {string} key @param {string} value @returns {GgufEntry} */
  str: (key, value) => ({ key, type: ValueType.STRING, value }),
  /** @param {string} key @param {boolean} value @returns {GgufEntry} */
  bool: (key, value) => ({ key, type: ValueType.BOOL, value }),
  /** @param {string} key @param {number} itemType @param {GgufScalar[]} values @returns {GgufEntry} */
  array: (key, itemType, values) => ({ key, type: ValueType.ARRAY, itemType, value: values }),
};

/** Bytes per scalar value type (strings and arrays have their own encoding). */
/** @type {Record<number, number>} */
const SCALAR_SIZES = {
  [ValueType.UINT8]: 1, [ValueType.INT8]: 1, [ValueType.UINT16]: 2, [ValueType.INT16]: 2,
  [ValueType.UINT32]: 4, [ValueType.INT32]: 4, [ValueType.FLOAT32]: 4, [ValueType.BOOL]: 1,
  [ValueType.UINT64]: 8, [ValueType.INT64]: 8, [ValueType.FLOAT64]: 8,
};

/** A growable little-endian byte buffer. */
class ByteWriter {
  constructor(capacity = 1 << 16) {
    this.bytes = new Uint8Array(capacity);
    this.view = new DataView(this.bytes.buffer);
    this.length = 0;
  }

  /** @param {number} n */
  reserve(n) {
    if (this.length + n <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.bytes.subarray(0, this.length));
    this.bytes = next;
    this.view = new DataView(next.buffer);
  }

  /** @param {number} type @param {GgufScalar} value */
  scalar(type, value) {
    const size = SCALAR_SIZES[type];
    if (type === ValueType.STRING) return this.string(String(value));
    if (size === undefined) throw new Error(`GGUF writer: unsupported scalar type ${type}`);
    this.reserve(size);
    const at = this.length;
    const v = this.view;
    if (type === ValueType.UINT8) v.setUint8(at, Number(value));
    else if (type === ValueType.INT8) v.setInt8(at, Number(value));
    else if (type === ValueType.UINT16) v.setUint16(at, Number(value), true);
    else if (type === ValueType.INT16) v.setInt16(at, Number(value), true);
    else if (type === ValueType.UINT32) v.setUint32(at, Number(value), true);
    else if (type === ValueType.INT32) v.setInt32(at, Number(value), true);
    else if (type === ValueType.FLOAT32) v.setFloat32(at, Number(value), true);
    else if (type === ValueType.BOOL) v.setUint8(at, value ? 1 : 0);
    else if (type === ValueType.UINT64) v.setBigUint64(at, BigInt(value), true);
    else if (type === ValueType.INT64) v.setBigInt64(at, BigInt(value), true);
    else v.setFloat64(at, Number(value), true);
    this.length += size;
  }

  /** @param {string} text a GGUF string: uint64 byte length, then UTF-8 bytes */
  string(text) {
    const encoded = new TextEncoder().encode(text);
    this.scalar(ValueType.UINT64, encoded.length);
    this.reserve(encoded.length);
    this.bytes.set(encoded, this.length);
    this.length += encoded.length;
  }

  /** @param {number} alignment pads with zero bytes to the next multiple of `alignment` */
  pad(alignment) {
    const padding = (alignment - (this.length % alignment)) % alignment;
    this.reserve(padding);
    this.bytes.fill(0, this.length, this.length + padding);
    this.length += padding;
  }

  result() {
    return this.bytes.subarray(0, this.length);
  }
}

/** @param {GgufTensor} tensor @returns {Uint8Array} */
function tensorBytes(tensor) {
  const count = tensor.dims.reduce((a, b) => a * b, 1);
  if (count !== tensor.values.length) {
    throw new Error(`GGUF writer: tensor ${tensor.name} has ${tensor.values.length} values but dims ${tensor.dims.join('×')} need ${count}`);
  }
  if (tensor.type === TensorType.F32) return new Uint8Array(tensor.values.buffer, tensor.values.byteOffset, tensor.values.byteLength);
  if (tensor.type === TensorType.F16) return encodeFloat16(tensor.values);
  throw new Error(`GGUF writer: tensor ${tensor.name} has unsupported type ${tensor.type} (F32 and F16 only)`);
}

/**
 * Encodes everything before the tensor data, and each tensor's bytes with its offset.
 * @param {GgufContent} content
 */
export function encodeGguf(content) {
  const alignment = content.alignment ?? DEFAULT_ALIGNMENT;
  if (alignment <= 0 || alignment % 8 !== 0) throw new Error(`GGUF writer: alignment must be a positive multiple of 8, not ${alignment}`);
  const metadata = [...content.metadata];
  if (alignment !== DEFAULT_ALIGNMENT && !metadata.some((e) => e.key === 'general.alignment')) {
    metadata.push(meta.u32('general.alignment', alignment));
  }
  const head = new ByteWriter();
  head.scalar(ValueType.UINT32, GGUF_MAGIC);
  head.scalar(ValueType.UINT32, GGUF_VERSION);
  head.scalar(ValueType.UINT64, content.tensors.length);
  head.scalar(ValueType.UINT64, metadata.length);
  for (const entry of metadata) {
    head.string(entry.key);
    head.scalar(ValueType.UINT32, entry.type);
    if (entry.type === ValueType.ARRAY) {
      if (!Array.isArray(entry.value) || entry.itemType === undefined) throw new Error(`GGUF writer: ${entry.key} needs an itemType and an array`);
      head.scalar(ValueType.UINT32, entry.itemType);
      head.scalar(ValueType.UINT64, entry.value.length);
      for (const item of entry.value) head.scalar(entry.itemType, item);
    } else {
      if (Array.isArray(entry.value)) throw new Error(`GGUF writer: ${entry.key} is an array but its type is ${entry.type}`);
      head.scalar(entry.type, entry.value);
    }
  }
  const blobs = content.tensors.map(tensorBytes);
  let offset = 0;
  content.tensors.forEach((tensor, i) => {
    head.string(tensor.name);
    head.scalar(ValueType.UINT32, tensor.dims.length);
    for (const dim of tensor.dims) head.scalar(ValueType.UINT64, dim);
    head.scalar(ValueType.UINT32, tensor.type);
    head.scalar(ValueType.UINT64, offset);
    const size = blobs[i]?.length ?? 0;
    offset += size + ((alignment - (size % alignment)) % alignment);
  });
  head.pad(alignment);
  return { head: head.result(), blobs, alignment };
}

/**
 * Writes a GGUF file atomically (temporary file, then rename).
 * @param {string} path
 * @param {GgufContent} content
 * @returns {Promise<{ sizeBytes: number }>}
 */
export async function writeGguf(path, content) {
  const { head, blobs, alignment } = encodeGguf(content);
  const temporary = `${path}.${process.pid}.partial`;
  const handle = await open(temporary, 'w');
  let sizeBytes = 0;
  try {
    const zeros = new Uint8Array(alignment);
    const write = async (/** @type {Uint8Array} */ bytes) => {
      let done = 0;
      while (done < bytes.length) {
        const { bytesWritten } = await handle.write(bytes, done, bytes.length - done);
        done += bytesWritten;
      }
      sizeBytes += bytes.length;
    };
    await write(head);
    for (const blob of blobs) {
      await write(blob);
      const padding = (alignment - (blob.length % alignment)) % alignment;
      if (padding) await write(zeros.subarray(0, padding));
    }
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temporary, { force: true });
    throw error;
  }
  await handle.close();
  await rename(temporary, path);
  return { sizeBytes };
}
