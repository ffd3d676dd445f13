/**
 * @module
 * One row of the decoder's `logits` output as float32, for the full-row sampler.
 */
import { float16ToFloat32 } from './float16.ts'
import type { Tensor } from './ort-runtime.ts'

/** Row `row`'s last-position logits as float32: `logits` is [rows, positions, vocab]. */
export function rowLogits(logits: Tensor, row: number): Float32Array {
  const [, positions = 1, vocab = 0] = logits.dims
  const start = (row * positions + positions - 1) * vocab
  if (logits.type === 'float16') {
    return float16ToFloat32((logits.data as Uint16Array).subarray(start, start + vocab))
  }
  return (logits.data as Float32Array).subarray(start, start + vocab)
}
