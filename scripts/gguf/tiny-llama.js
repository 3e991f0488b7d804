/**
 * Builds a tiny llama-architecture model with random weights: the metadata llama.cpp requires
 * for `llama` (context/embedding/feed-forward lengths, block and head counts, RoPE dimensions,
 * RMS-norm epsilon), the tokenizer (vocabulary.js) with a ChatML chat template, and the tensors
 * llama.cpp's llama loader asks for (token_embd, blk.N.attn_q/k/v/output, blk.N.ffn_gate/up/down, the norms, output).
 *
 * The weights are random, so the model's answers are noise. One trick makes the noise look like
 * words: every token embedding has a large constant in dimension 0, which survives RMS norm, and
 * the output matrix's column 0 turns it into a per-token bias — whole words likely, bytes and
 * pieces unlikely, `<|im_end|>` now and then so answers end by themselves. A second one keeps an
 * answer from ending before it starts: dimension 1 is zero in every embedding but the newline's
 * (the last token of a ChatML prompt, `<|im_start|>assistant\n`), and the output matrix's column 1
 * turns it into a large negative logit for the end-of-turn tokens only. Without it the small model
 * ended ~2% of its answers at their first token: an empty reply, which Mai rightly treats as a
 * failure and answers with the next model (the demo's pinned turn then came from the large one).
 */
import { FileType, TensorType, ValueType } from './constants.js';
import { createRandom } from './random.js';
import { buildVocabulary, SpecialTokens } from './vocabulary.js';
import { meta } from './writer.js';

/**
 * @typedef {object} TinyLlamaSpec
 * @property {string} id its file name without `.gguf`, and the start of its name (general.name)
 * @property {number} layers
 * @property {number} embedding
 * @property {number} heads
 * @property {number} kvHeads
 * @property {number} feedForward
 * @property {number} contextLength
 * @property {'F32' | 'F16'} tensorType type of the matrices (norms are always F32)
 * @property {string} [seed] defaults to the id
 * @property {'small' | 'medium' | 'large'} [tier] written as `mai.tier`, so no config entry is needed for it
 */

/**
 * The demo weights' revision, written as `mai.demo.revision`: a demo file of an older one is written again
 * (demo-models.js). 2: answers never end at their first token.
 */
export const DEMO_REVISION = 2;

/** A ChatML template, the shape most chat models' templates take. */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** Logit each kind of token gets from the bias trick (before the random part). */
const ROLE_LOGIT = { word: 3, punctuation: 1, char: -4, piece: -4, byte: -4, special: -4 };
/** About 1% a token at temperature 0.8–1, so a noise answer is some 100 tokens long. */
const END_OF_TURN_LOGIT = 4.25;
const LOGIT_NOISE = 1;
/** What the newline (the end of a ChatML prompt) adds to the end-of-turn tokens' logits: e^-30, never sampled. */
const ANSWER_START_END_LOGIT = -30;
/** Scale of the matrices that write into the residual stream, and the variance they add per layer. */
const RESIDUAL_GAIN = 0.5;
const RESIDUAL_VARIANCE = 0.35;

/**
 * @param {TinyLlamaSpec} spec
 * @returns {import('./writer.js').GgufContent}
 */
export function buildTinyLlama(spec) {
  const { layers, embedding: nEmbd, heads, kvHeads, feedForward: nFf } = spec;
  if (nEmbd % heads !== 0 || heads % kvHeads !== 0) throw new Error(`${spec.id}: embedding must divide by heads, and heads by kvHeads`);
  const headDim = nEmbd / heads;
  const nKv = headDim * kvHeads;
  const vocab = buildVocabulary();
  const nVocab = vocab.tokens.length;
  const random = createRandom(spec.seed ?? spec.id);
  const matrixType = spec.tensorType === 'F16' ? TensorType.F16 : TensorType.F32;

  /** @param {number} count @param {number} std */
  const gaussian = (count, std) => {
    const values = new Float32Array(count);
    for (let i = 0; i < count; i++) values[i] = random.normal() * std;
    return values;
  };
  /**
   * A [inputs → outputs] matrix: ggml dims are [inputs, outputs], one row of `inputs` per output.
   * Matrices that write into the residual stream are scaled down and leave dimension 0 alone.
   */
  const matrix = (/** @type {string} */ name, /** @type {number} */ inputs, /** @type {number} */ outputs, residual = false) => {
    const values = gaussian(inputs * outputs, (residual ? RESIDUAL_GAIN : 1) / Math.sqrt(inputs));
    if (residual) values.fill(0, 0, 2 * inputs); // dimensions 0 and 1 (the two features) stay as the embedding set them
    return { name, type: matrixType, dims: [inputs, outputs], values };
  };
  const ones = (/** @type {string} */ name) => ({ name, type: TensorType.F32, dims: [nEmbd], values: new Float32Array(nEmbd).fill(1) });

  // Dimension 0 of every embedding is the anchor. The other dimensions have variance 1 in the
  // embedding and gain about RESIDUAL_VARIANCE per layer; RMS norm then leaves the anchor at:
  const anchor = Math.sqrt(nEmbd);
  const variance = 1 + layers * RESIDUAL_VARIANCE;
  const rms = Math.sqrt((nEmbd + (nEmbd - 1) * variance) / nEmbd);
  const normedAnchor = anchor / rms;
  const embeddings = gaussian(nEmbd * nVocab, 1);
  const newline = vocab.tokens.indexOf('<0x0A>');
  for (let t = 0; t < nVocab; t++) {
    embeddings[t * nEmbd] = anchor;
    embeddings[t * nEmbd + 1] = t === newline ? anchor : 0;
  }
  // RMS norm after the newline, where dimension 1 is as large as the anchor:
  const normedStart = anchor / Math.sqrt((2 * nEmbd + (nEmbd - 2) * variance) / nEmbd);
  // The random part of each logit has a standard deviation of about LOGIT_NOISE.
  const output = gaussian(nEmbd * nVocab, LOGIT_NOISE / (Math.sqrt(nEmbd - 1) * (Math.sqrt(variance) / rms)));
  for (let t = 0; t < nVocab; t++) {
    const logit = t === SpecialTokens.imEnd ? END_OF_TURN_LOGIT : ROLE_LOGIT[vocab.roles[t] ?? 'special'];
    if (t === SpecialTokens.imEnd) output.fill(0, t * nEmbd, (t + 1) * nEmbd);
    output[t * nEmbd] = logit / normedAnchor;
    // Right after the newline the end-of-turn tokens (llama.cpp ends a generation at either) are never sampled.
    output[t * nEmbd + 1] = t === SpecialTokens.imEnd || t === SpecialTokens.eos ? (ANSWER_START_END_LOGIT - logit) / normedStart : 0;
  }

  const tensors = [{ name: 'token_embd.weight', type: matrixType, dims: [nEmbd, nVocab], values: embeddings }];
  for (let i = 0; i < layers; i++) {
    tensors.push(
      ones(`blk.${i}.attn_norm.weight`),
      matrix(`blk.${i}.attn_q.weight`, nEmbd, nEmbd),
      matrix(`blk.${i}.attn_k.weight`, nEmbd, nKv),
      matrix(`blk.${i}.attn_v.weight`, nEmbd, nKv),
      matrix(`blk.${i}.attn_output.weight`, nEmbd, nEmbd, true),
      ones(`blk.${i}.ffn_norm.weight`),
      matrix(`blk.${i}.ffn_gate.weight`, nEmbd, nFf),
      matrix(`blk.${i}.ffn_up.weight`, nEmbd, nFf),
      matrix(`blk.${i}.ffn_down.weight`, nFf, nEmbd, true),
    );
  }
  tensors.push(ones('output_norm.weight'), { name: 'output.weight', type: matrixType, dims: [nEmbd, nVocab], values: output });

  const metadata = [
    meta.str('general.architecture', 'llama'),
    // The name says the chat format: node-llama-cpp's resolveChatWrapper renders the template
    // against its specialised formats in the order the name and file name suggest, and without a
    // hint it tries ten before ChatML (~1 CPU-s at every model load). Mai lists a model by its file
    // name; general.name is not shown.
    meta.str('general.name', `${spec.id} (ChatML)`),
    meta.str('general.description', 'A demo model written by Mai (scripts/demo-models.js). Its weights are random: its answers are noise.'),
    // Marks the file as a demo: the catalogue hides demo models as soon as any real model exists.
    meta.bool('mai.demo', true),
    meta.u32('mai.demo.revision', DEMO_REVISION),
    ...(spec.tier ? [meta.str('mai.tier', spec.tier)] : []),
    meta.u32('general.file_type', spec.tensorType === 'F16' ? FileType.MOSTLY_F16 : FileType.ALL_F32),
    meta.u32('llama.context_length', spec.contextLength),
    meta.u32('llama.embedding_length', nEmbd),
    meta.u32('llama.block_count', layers),
    meta.u32('llama.feed_forward_length', nFf),
    meta.u32('llama.attention.head_count', heads),
    meta.u32('llama.attention.head_count_kv', kvHeads),
    meta.u32('llama.rope.dimension_count', headDim),
    meta.f32('llama.rope.freq_base', 10000),
    meta.f32('llama.attention.layer_norm_rms_epsilon', 1e-5),
    meta.u32('llama.vocab_size', nVocab),
    meta.str('tokenizer.ggml.model', 'llama'),
    meta.array('tokenizer.ggml.tokens', ValueType.STRING, vocab.tokens),
    meta.array('tokenizer.ggml.scores', ValueType.FLOAT32, vocab.scores),
    meta.array('tokenizer.ggml.token_type', ValueType.INT32, vocab.types),
    meta.u32('tokenizer.ggml.bos_token_id', SpecialTokens.bos),
    meta.u32('tokenizer.ggml.eos_token_id', SpecialTokens.eos),
    meta.u32('tokenizer.ggml.unknown_token_id', SpecialTokens.unk),
    meta.bool('tokenizer.ggml.add_bos_token', true),
    meta.bool('tokenizer.ggml.add_eos_token', false),
    meta.str('tokenizer.chat_template', CHATML_TEMPLATE),
  ];
  return { metadata, tensors };
}
