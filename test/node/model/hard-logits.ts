/**
 * @module test/model/hard-logits
 * Shared by the sampling head tests: logits rows built to be hard for a top K, the batch a head is fed, and
 * the answer a plain TopK gives (highest value first, ties to the lower id).
 */
import { expect } from 'vitest'
import { float16ToFloat32 } from '../../../gpu-node/model/float16.ts'
import { float32ToFloat16 } from '../../../gpu-node/model/float32-to-float16.ts'
import type { RowCandidates } from '../../../gpu-node/model/sampling-head.ts'
import { createRng } from '../../../gpu-node/text/random.ts'

/** The plain TopK of one row: highest value first, ties to the lower id. */
export function expectedTop(row: Float32Array, k: number): { ids: number[]; values: number[] } {
  const ids = Array.from(row.keys()).sort((a, b) => row[b]! - row[a]! || a - b)
  const top = ids.slice(0, k)
  return { ids: top, values: top.map((id) => row[id]!) }
}

/**
 * Rows built to be hard: coarse values (many ties, also at the K-th place), a row of equal values, and a
 * row whose best logits crowd into a few neighbouring blocks.
 */
function hardRows(vocab: number): Float32Array[] {
  const rng = createRng(11)
  const coarse = Float32Array.from({ length: vocab }, () => Math.round(rng.next() * 40) / 4 - 5)
  const flat = new Float32Array(vocab).fill(1.5)
  const crowded = Float32Array.from({ length: vocab }, () => rng.next() * 10 - 20)
  for (let id = 1000; id < 1600; id++) crowded[id] = 10 + Math.round(rng.next() * 8) / 2
  return [coarse, flat, crowded]
}

/**
 * The hard rows as one [rows, 1, vocab] batch of `type`, and the rows as the head sees them: float16 rounds
 * the logits, so the expected answer comes from the rounded values.
 */
export function hardBatch(vocab: number, type: 'float32' | 'float16') {
  let rows = hardRows(vocab)
  const flat = new Float32Array(rows.length * vocab)
  rows.forEach((row, r) => flat.set(row, r * vocab))
  const data = type === 'float16' ? float32ToFloat16(flat) : flat
  if (type === 'float16') {
    const rounded = float16ToFloat32(data as Uint16Array)
    rows = rows.map((_, r) => rounded.subarray(r * vocab, (r + 1) * vocab))
  }
  return { rows, data, dims: [rows.length, 1, vocab] }
}

/** Each row's candidates are exactly the plain TopK's, ids and values. */
export function expectPlainTopK(got: RowCandidates[], rows: Float32Array[], k: number): void {
  expect(got).toHaveLength(rows.length)
  rows.forEach((row, r) => {
    const expected = expectedTop(row, k)
    expect(Array.from(got[r]!.ids)).toEqual(expected.ids)
    expect(Array.from(got[r]!.logits)).toEqual(expected.values)
  })
}
