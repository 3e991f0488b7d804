/**
 * The numbers of the GGUF format this writer needs, from the GGUF specification
 * (ggml docs/gguf.md): metadata value types, tensor types, file types, token types.
 */

/** Metadata value types (gguf_metadata_value_type). */
export const ValueType = Object.freeze({
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
});

/** Tensor element types this writer can encode (ggml_type). */
export const TensorType = Object.freeze({ F32: 0, F16: 1 });

/** general.file_type: the type of most tensors (llama_ftype). */
export const FileType = Object.freeze({ ALL_F32: 0, MOSTLY_F16: 1 });

/** tokenizer.ggml.token_type values (llama_token_type). */
export const TokenType = Object.freeze({ NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 });

/** "GGUF" read as a little-endian uint32. */
export const GGUF_MAGIC = 0x46554747;
export const GGUF_VERSION = 3;
/** The alignment readers assume when general.alignment is absent. */
export const DEFAULT_ALIGNMENT = 32;
