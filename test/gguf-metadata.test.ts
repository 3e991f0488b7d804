/**
 * The project's GGUF writer and the metadata reader against each other, on real files in a temp
 * folder: the demo models read back with the numbers they were written with, every value type
 * round-trips, and broken files (not GGUF, truncated header, truncated weights, old or
 * big-endian versions, absurd lengths) fail with a clear MaiError that names the file.
 */
import { createHash } from 'node:crypto';
import { readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, MaiError } from '../core/errors.ts';
import { architectureOf, describeGgufModel, readGgufHeader, readGgufModelInfo } from '../plugins/backends/gguf-metadata.ts';
import {
  buildVocabulary,
  CHATML_TEMPLATE,
  DEMO_MODELS,
  TensorType,
  toFloat16Bits,
  ValueType,
  meta,
  writeDemoModel,
  writeGguf,
} from '../scripts/gguf/index.js';
import { putDemoModel } from './support/demo-models.ts';
import { tempDir, type TempDir } from './support/harness.ts';

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir('mai-gguf-meta-');
});
afterAll(() => dir.cleanup());

async function expectCorrupt(file: string, pattern: RegExp): Promise<MaiError> {
  const error = await readGgufModelInfo(file).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MaiError);
  const mai = error as MaiError;
  expect(mai.code).toBe(ErrorCodes.badRequest);
  expect(mai.retryable).toBe(false);
  expect(mai.message).toContain(file);
  expect(mai.message).toMatch(pattern);
  return mai;
}

describe('the demo models, read back', () => {
  for (const spec of DEMO_MODELS) {
    it(`${spec.id}: the reader finds what the writer wrote`, async () => {
      const { path, sizeBytes } = await writeDemoModel(dir.path, spec);
      const info = await readGgufModelInfo(path);
      expect(info).toMatchObject({
        file: path,
        sizeBytes,
        architecture: 'llama',
        name: `${spec.id} (ChatML)`,
        contextLength: spec.contextLength,
        layers: spec.layers,
        heads: spec.heads,
        kvHeads: spec.kvHeads,
        embeddingSize: spec.embedding,
        feedForwardLength: spec.feedForward,
        vocabSize: buildVocabulary().tokens.length,
        quantization: spec.tensorType,
        hasChatTemplate: true,
        tensorCount: 3 + 9 * spec.layers,
        splitCount: 1,
        demo: true,
        tier: spec.tier,
      });
      expect(sizeBytes).toBe((await stat(path)).size);
      expect(sizeBytes).toBeLessThan(4 * 1024 * 1024);
      expect(architectureOf(info)).toEqual({ layers: spec.layers, heads: spec.heads, kvHeads: spec.kvHeads, embeddingSize: spec.embedding, kvBytesPerElement: 2 });
    });
  }

  it('keeps short values, skips the vocabulary, and aligns every tensor', async () => {
    const spec = DEMO_MODELS[0]!;
    const { path } = await writeDemoModel(dir.path, spec);
    const header = await readGgufHeader(path);
    expect(header.version).toBe(3);
    expect(header.alignment).toBe(32);
    expect(header.metadata.get('tokenizer.chat_template')).toBe(CHATML_TEMPLATE);
    expect(header.metadata.get('tokenizer.ggml.model')).toBe('llama');
    expect(header.metadata.get('tokenizer.ggml.tokens')).toEqual({ skipped: 'array', length: buildVocabulary().tokens.length });
    expect(header.metadata.get('llama.attention.layer_norm_rms_epsilon')).toBeCloseTo(1e-5, 10);
    expect(header.dataOffset % 32).toBe(0);
    for (const tensor of header.tensors) expect(tensor.offset % 32).toBe(0);
    const embd = header.tensors.find((t) => t.name === 'token_embd.weight');
    expect(embd?.dims).toEqual([spec.embedding, buildVocabulary().tokens.length]);
  });

  it('writes the same bytes every time (seeded weights)', async () => {
    const spec = DEMO_MODELS[1]!;
    const a = await writeDemoModel(join(dir.path, 'a'), spec);
    // The run's shared copy (test/support/demo-models.ts) is another write, often by another worker process.
    const b = await putDemoModel(join(dir.path, 'b'), spec);
    const hash = async (p: string) => createHash('sha256').update(await readFile(p)).digest('hex');
    expect(await hash(a.path)).toBe(await hash(b));
  });
});

describe('the writer', () => {
  it('round-trips every value type and a custom alignment', async () => {
    const path = join(dir.path, 'values.gguf');
    await writeGguf(path, {
      alignment: 64,
      metadata: [
        meta.str('general.architecture', 'test'),
        { key: 'v.u8', type: ValueType.UINT8, value: 200 },
        { key: 'v.i8', type: ValueType.INT8, value: -100 },
        { key: 'v.u16', type: ValueType.UINT16, value: 60000 },
        { key: 'v.i16', type: ValueType.INT16, value: -30000 },
        meta.u32('v.u32', 4_000_000_000),
        { key: 'v.i32', type: ValueType.INT32, value: -2_000_000_000 },
        meta.f32('v.f32', 0.5),
        meta.bool('v.bool', true),
        meta.str('v.string', 'héllo ▁ wörld'),
        { key: 'v.u64', type: ValueType.UINT64, value: 2n ** 60n },
        { key: 'v.i64', type: ValueType.INT64, value: -(2n ** 60n) },
        { key: 'v.f64', type: ValueType.FLOAT64, value: Math.PI },
        meta.array('v.array', ValueType.INT32, [1, -2, 3]),
        meta.array('v.strings', ValueType.STRING, ['a', 'bc']),
      ],
      tensors: [
        { name: 'a', type: TensorType.F32, dims: [3], values: new Float32Array([1, 2, 3]) },
        { name: 'b', type: TensorType.F16, dims: [5, 2], values: new Float32Array(10).fill(0.25) },
      ],
    });
    const header = await readGgufHeader(path);
    const m = header.metadata;
    expect(header.alignment).toBe(64);
    expect(m.get('general.alignment')).toBe(64);
    expect([m.get('v.u8'), m.get('v.i8'), m.get('v.u16'), m.get('v.i16'), m.get('v.u32'), m.get('v.i32')]).toEqual([200, -100, 60000, -30000, 4_000_000_000, -2_000_000_000]);
    expect([m.get('v.f32'), m.get('v.bool'), m.get('v.string')]).toEqual([0.5, true, 'héllo ▁ wörld']);
    expect([m.get('v.u64'), m.get('v.i64'), m.get('v.f64')]).toEqual([2n ** 60n, -(2n ** 60n), Math.PI]);
    expect(m.get('v.array')).toEqual([1, -2, 3]);
    expect(m.get('v.strings')).toEqual(['a', 'bc']);
    expect(header.tensors).toEqual([
      { name: 'a', dims: [3], type: TensorType.F32, offset: 0 },
      { name: 'b', dims: [5, 2], type: TensorType.F16, offset: 64 },
    ]);
    const bytes = await readFile(path);
    expect(header.dataOffset % 64).toBe(0);
    expect(bytes.readFloatLE(header.dataOffset + 8)).toBe(3);
    expect(bytes.readUInt16LE(header.dataOffset + 64)).toBe(0x3400); // 0.25 in half precision
    expect(bytes.length).toBe(header.dataOffset + 64 + 20 + 44); // the last tensor is padded too
  });

  it('converts to half precision rounding to nearest', () => {
    expect(toFloat16Bits(1)).toBe(0x3c00);
    expect(toFloat16Bits(-2)).toBe(0xc000);
    expect(toFloat16Bits(0.1)).toBe(0x2e66);
    expect(toFloat16Bits(65504)).toBe(0x7bff);
    expect(toFloat16Bits(1e6)).toBe(0x7c00);
    expect(toFloat16Bits(6e-8)).toBe(0x0001);
    expect(toFloat16Bits(1e-9)).toBe(0);
    expect(toFloat16Bits(Number.NaN)).toBe(0x7e00);
  });
});

describe('broken files', () => {
  let good: Buffer;
  beforeAll(async () => {
    good = await readFile(await putDemoModel(join(dir.path, 'good'), DEMO_MODELS[0]!));
  });

  it('a file that is not GGUF', async () => {
    const path = join(dir.path, 'notes.gguf');
    await writeFile(path, 'these are my notes, not a model at all');
    await expectCorrupt(path, /does not start with "GGUF"/);
  });

  it('a file too short for a header', async () => {
    const path = join(dir.path, 'short.gguf');
    await writeFile(path, 'GGUF');
    await expectCorrupt(path, /too short/);
  });

  it('a header cut in the middle of the metadata', async () => {
    const path = join(dir.path, 'cut-header.gguf');
    await writeFile(path, good.subarray(0, 2000));
    const error = await expectCorrupt(path, /truncated|more than the file can hold|only \d+ are left/);
    expect(error.data?.file).toBe(path);
  });

  it('weights cut short', async () => {
    const path = join(dir.path, 'cut-weights.gguf');
    await writeFile(path, good);
    await truncate(path, good.length - 1000);
    await expectCorrupt(path, /tensor output\.weight .* the file is truncated/);
  });

  it('GGUF version 1 and big-endian files', async () => {
    const v1 = Buffer.from(good);
    v1.writeUInt32LE(1, 4);
    await writeFile(join(dir.path, 'v1.gguf'), v1);
    await expectCorrupt(join(dir.path, 'v1.gguf'), /version 1/);
    const big = Buffer.from(good);
    big.writeUInt32BE(3, 4);
    await writeFile(join(dir.path, 'big.gguf'), big);
    await expectCorrupt(join(dir.path, 'big.gguf'), /big-endian/);
  });

  it('absurd counts and lengths', async () => {
    const manyKeys = Buffer.from(good);
    manyKeys.writeBigUInt64LE(10n ** 12n, 16);
    await writeFile(join(dir.path, 'keys.gguf'), manyKeys);
    await expectCorrupt(join(dir.path, 'keys.gguf'), /claims 1000000000000 metadata entries/);
    const longKey = Buffer.from(good);
    longKey.writeBigUInt64LE(10n ** 9n, 24); // the length of the first key
    await writeFile(join(dir.path, 'key-length.gguf'), longKey);
    await expectCorrupt(join(dir.path, 'key-length.gguf'), /claims 1000000000 bytes/);
  });

  it('a missing file is model-not-found, and a GGUF without an architecture is refused', async () => {
    const missing = join(dir.path, 'nope.gguf');
    await expect(readGgufModelInfo(missing)).rejects.toMatchObject({ code: ErrorCodes.modelNotFound, message: expect.stringContaining(missing) });
    const path = join(dir.path, 'no-arch.gguf');
    await writeGguf(path, { metadata: [meta.str('general.name', 'x')], tensors: [] });
    const header = await readGgufHeader(path);
    expect(() => describeGgufModel(header)).toThrow(/no general\.architecture/);
  });
});
