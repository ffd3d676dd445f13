/**
 * @module
 * Writes encoder features over the `inputs_embeds` rows of the soft-token placeholders: the masked scatter
 * of transformers.js `default_merge_input_ids_with_features` / HF `masked_scatter` (gemma3n-contract.md §3).
 * Row k of the flattened features goes to the k-th placeholder position in ascending order, and the counts
 * must agree. `per_layer_inputs` is not touched: embed_tokens already maps placeholders to row 0.
 */
import { float32ToFloat16 } from './float32-to-float16.ts'

/** Encoder output of a batch: [items, rows, hidden], float32. */
export interface FeatureBatch {
  data: Float32Array
  dims: [number, number, number]
}

/** The feature rows and the placeholder positions disagree: the prompt and the media do not match. */
export class FeatureMergeError extends Error {
  override name = 'FeatureMergeError'
}

/** @throws FeatureMergeError unless the encoder gave one feature row per soft-token position */
export function checkRowCount(positions: readonly number[], features: FeatureBatch): void {
  const [items, rows] = features.dims
  if (positions.length !== items * rows) {
    throw new FeatureMergeError(
      `The prompt has ${positions.length} soft-token positions but the encoder gave ${items} x ${rows} = ${items * rows} feature rows`,
    )
  }
}

/**
 * Overwrites `inputsEmbeds` rows at `positions` with the feature rows, in place.
 * @param inputsEmbeds [..., hidden] flattened (one sequence [S, hidden], or a batch [B, S, hidden] with
 *   positions as flat row indices b * S + s); float16 embeddings (`Uint16Array` bits) get converted rows
 * @param positions strictly increasing row indices of the soft tokens (ExpandedPrompt's positions)
 * @throws FeatureMergeError when the counts differ, a position is out of range or out of order, or the
 *   hidden sizes disagree
 * @example mergeFeatures(embeds, expanded.imagePositions, await encoders.encodeImages(images))
 */
export function mergeFeatures(
  inputsEmbeds: Float32Array | Uint16Array,
  positions: readonly number[],
  features: FeatureBatch,
): void {
  checkRowCount(positions, features)
  const [items, rows, hidden] = features.dims
  if (features.data.length !== items * rows * hidden || inputsEmbeds.length % hidden !== 0) {
    throw new FeatureMergeError(
      `Feature rows of width ${hidden} do not fit embeddings of ${inputsEmbeds.length} values`,
    )
  }
  const embedRows = inputsEmbeds.length / hidden
  let previous = -1
  for (const p of positions) {
    if (!Number.isInteger(p) || p <= previous || p >= embedRows) {
      throw new FeatureMergeError(
        `Soft-token position ${p} is out of order or outside the ${embedRows} embedding rows`,
      )
    }
    previous = p
  }
  const rowsOut =
    inputsEmbeds instanceof Uint16Array ? float32ToFloat16(features.data) : features.data
  positions.forEach((p, k) => {
    inputsEmbeds.set(rowsOut.subarray(k * hidden, (k + 1) * hidden), p * hidden)
  })
}
