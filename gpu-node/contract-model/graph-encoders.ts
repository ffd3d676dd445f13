/**
 * @module contract-model/graph-encoders
 * Stand-ins for the vision and audio towers with the export's I/O (gemma3n-contract.md §2):
 * cheap, content-dependent, and exactly 256 rows per image / 188 rows per clip, which is what
 * transformers.js scatters into the placeholder positions.
 */
import { GraphBuilder } from './onnx-builder.ts'
import type { ContractModelOptions } from './options.ts'
import { linear, unsqueeze } from './graph-ops.ts'
import { ONNX_TYPES } from './onnx-builder.ts'

/** Pixels per side of the processor output (SiglipImageProcessorFast size 768x768). */
export const IMAGE_SIZE = 768
/** Soft tokens per image and per audio clip. */
export const IMAGE_TOKENS = 256
export const AUDIO_TOKENS = 188
/** Mel bins of the audio feature extractor. */
export const MEL_BINS = 128

const POOL = IMAGE_SIZE / Math.sqrt(IMAGE_TOKENS) // 48: a 16x16 grid of pooled cells

/** `vision_encoder`: pixel_values [N, 3, 768, 768] -> image_features [N, 256, H]. */
export function buildVisionEncoder(o: ContractModelOptions): GraphBuilder {
  const g = new GraphBuilder(o.seed)
  const pixels = g.input('pixel_values', 'float32', ['num_images', 3, IMAGE_SIZE, IMAGE_SIZE])
  const pooled = g.op('AveragePool', [pixels], {
    kernel_shape: [POOL, POOL],
    strides: [POOL, POOL],
  }) // [N, 3, 16, 16]
  const cells = g.op('Transpose', [g.op('Reshape', [pooled, g.int64([0, 3, IMAGE_TOKENS])])], {
    perm: [0, 2, 1],
  }) // [N, 256, 3]
  // Pixels are in [0, 1]; a large gain makes colour differences move the features.
  const mixed = g.op('Add', [
    linear(g, cells, 'vision.proj', 3, o.hidden, 4),
    g.weight('vision.rows', [IMAGE_TOKENS, o.hidden], 1),
  ])
  g.op('Tanh', [mixed], {}, 'image_features')
  g.output('image_features', 'float32', ['num_images', IMAGE_TOKENS, o.hidden])
  return g
}

/**
 * `audio_encoder`: input_features [B, F, 128] + input_features_mask [B, F] (true = valid frame)
 * -> audio_features [B, 188, H], from the masked mean of the valid frames.
 */
export function buildAudioEncoder(o: ContractModelOptions): GraphBuilder {
  const g = new GraphBuilder(o.seed)
  const feats = g.input('input_features', 'float32', ['batch_size', 'num_frames', MEL_BINS])
  const mask = g.input('input_features_mask', 'bool', ['batch_size', 'num_frames'])
  const weights = unsqueeze(g, g.op('Cast', [mask], { to: ONNX_TYPES.float32 }), [-1]) // [B, F, 1]
  const axis = g.int64([1])
  const sum = g.op('ReduceSum', [g.op('Mul', [feats, weights]), axis], { keepdims: 0 }) // [B, 128]
  const count = g.op('ReduceSum', [weights, axis], { keepdims: 0 }) // [B, 1]
  const mean = g.op('Div', [sum, g.op('Max', [count, g.float([1], [])])])
  // Log-mel values span about -11.5 (floor) to +5, so the projection gain is small.
  const clip = unsqueeze(g, linear(g, mean, 'audio.proj', MEL_BINS, o.hidden, 0.25), [1]) // [B, 1, H]
  const mixed = g.op('Add', [clip, g.weight('audio.rows', [AUDIO_TOKENS, o.hidden], 1)])
  g.op('Tanh', [mixed], {}, 'audio_features')
  g.output('audio_features', 'float32', ['batch_size', AUDIO_TOKENS, o.hidden])
  return g
}
