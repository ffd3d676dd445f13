/**
 * @module test/media/merge-features
 * Masked-scatter merge of encoder rows into `inputs_embeds` (float32 and float16) and the float32 ->
 * float16 conversion it uses; a prompt's media checked when added and merged chunk by chunk.
 */
import { describe, expect, it } from 'vitest'
import { float16ToFloat32 } from '../../../gpu-node/model/float16.ts'
import { float32ToFloat16 } from '../../../gpu-node/model/float32-to-float16.ts'
import { FeatureMergeError, mergeFeatures } from '../../../gpu-node/model/merge-features.ts'
import type { FeatureBatch } from '../../../gpu-node/model/merge-features.ts'
import { PromptMedia } from '../../../gpu-node/model/prompt-media.ts'

const H = 4

/** [rows, H] embeddings where row r holds r + 0.25 in every column. */
const embeds = (rows: number) =>
  Float32Array.from({ length: rows * H }, (_, i) => Math.floor(i / H) + 0.25)

/** [items, rows, H] features where flat row k holds -(k + 1). */
function features(items: number, rows: number): FeatureBatch {
  const data = Float32Array.from({ length: items * rows * H }, (_, i) => -(Math.floor(i / H) + 1))
  return { data, dims: [items, rows, H] }
}

const rowOf = (e: ArrayLike<number>, r: number) => Array.from(e).slice(r * H, (r + 1) * H)

describe('mergeFeatures', () => {
  it('writes feature row k over the k-th position and nothing else', () => {
    const e = embeds(10)
    mergeFeatures(e, [2, 3, 7, 8], features(2, 2))
    expect([2, 3, 7, 8].map((r) => rowOf(e, r)[0])).toEqual([-1, -2, -3, -4])
    expect([0, 1, 4, 5, 6, 9].map((r) => rowOf(e, r)[0])).toEqual([
      0.25, 1.25, 4.25, 5.25, 6.25, 9.25,
    ])
  })

  it('converts rows for float16 embeddings', () => {
    const e = float32ToFloat16(embeds(4))
    mergeFeatures(e, [1], features(1, 1))
    expect(Array.from(float16ToFloat32(e))).toEqual([
      ...[0.25, 0.25, 0.25, 0.25],
      ...[-1, -1, -1, -1],
      ...[2.25, 2.25, 2.25, 2.25],
      ...[3.25, 3.25, 3.25, 3.25],
    ])
  })

  it('throws a clear error when counts, order, range or widths disagree', () => {
    expect(() => mergeFeatures(embeds(10), [1, 2, 3], features(2, 2))).toThrow(
      /3 soft-token positions but the encoder gave 2 x 2 = 4 feature rows/,
    )
    expect(() => mergeFeatures(embeds(10), [3, 2], features(1, 2))).toThrow(FeatureMergeError)
    expect(() => mergeFeatures(embeds(10), [9, 10], features(1, 2))).toThrow(/outside the 10/)
    expect(() => mergeFeatures(new Float32Array(10), [0], features(1, 1))).toThrow(/width 4/)
  })
})

describe('PromptMedia', () => {
  it('refuses an encoder batch of the wrong size when added, before any chunk is merged', () => {
    const media = new PromptMedia()
    expect(() => media.add([3, 4, 5], features(1, 2))).toThrow(
      new FeatureMergeError(
        'The prompt has 3 soft-token positions but the encoder gave 1 x 2 = 2 feature rows',
      ),
    )
    media.add([3, 4], features(1, 2))
    const e = embeds(4)
    media.mergeInto(e, 2, 4) // a chunk of prompt positions 2 to 5
    expect([0, 1, 2, 3].map((r) => rowOf(e, r)[0])).toEqual([0.25, -1, -2, 3.25])
  })
})

describe('float32ToFloat16', () => {
  it('rounds to nearest even and handles the edges', () => {
    const cases: [number, number][] = [
      [1, 0x3c00],
      [-2, 0xc000],
      [0.1, 0x2e66],
      [65504, 0x7bff],
      [65520, 0x7c00], // halfway past the largest finite value: rounds to Inf
      [1 + 2 ** -11, 0x3c00], // tie -> even
      [1 + 3 * 2 ** -11, 0x3c02], // tie -> even (up)
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -26, 0x0000],
      [-0, 0x8000],
      [Number.POSITIVE_INFINITY, 0x7c00],
    ]
    const bits = float32ToFloat16(Float32Array.from(cases.map(([v]) => v)))
    expect(Array.from(bits)).toEqual(cases.map(([, b]) => b))
    expect(Number.isNaN(float16ToFloat32(float32ToFloat16(Float32Array.of(Number.NaN)))[0])).toBe(
      true,
    )
  })

  it('round-trips every finite half value', () => {
    const all = Uint16Array.from({ length: 0x7c00 }, (_, i) => i)
    expect(float32ToFloat16(float16ToFloat32(all))).toEqual(all)
  })
})
