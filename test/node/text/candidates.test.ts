import { describe, expect, it } from 'vitest'
import { selectNucleus } from '../../../gpu-node/text/nucleus.ts'
import { createRng } from '../../../gpu-node/text/random.ts'
import { selectTopK } from '../../../gpu-node/text/top-k.ts'

/** Ids by value, highest first, ties by lower id: the order a stable descending sort gives. */
const ranked = (values: ArrayLike<number>) =>
  Array.from(values, (_, id) => id).sort((a, b) => values[b]! - values[a]! || a - b)

/** Small integer values, so many ties and exact sums. */
function integers(seed: number, length: number, max: number): number[] {
  const rng = createRng(seed)
  return Array.from({ length }, () => Math.floor(rng.next() * max))
}

describe('selectTopK', () => {
  it('keeps the k largest logits, ties to the lower id', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const logits = Float32Array.from(integers(seed, 300, 20))
      for (const k of [1, 5, 64, 299, 300]) {
        const got = [...selectTopK(logits, k)].sort((a, b) => a - b)
        expect(got).toEqual(
          ranked(logits)
            .slice(0, k)
            .sort((a, b) => a - b),
        )
      }
    }
  })

  it('treats NaN as the lowest value', () => {
    expect([...selectTopK(Float32Array.of(NaN, 1, NaN, 0), 2)].sort()).toEqual([1, 3])
  })
})

describe('selectNucleus', () => {
  it('keeps the smallest most likely set that reaches the target', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const weights = integers(seed, 200, 8).map((w) => w + 1)
      const total = weights.reduce((a, b) => a + b, 0)
      for (const target of [0, 1, total * 0.3, total * 0.5, Math.floor(total * 0.9), total]) {
        const order = ranked(weights)
        let mass = 0
        let size = 0
        do mass += weights[order[size++]!]!
        while (mass < target)
        const ids = Int32Array.from(weights, (_, id) => id)
        const n = selectNucleus(ids, Float64Array.from(weights), target)
        expect([...ids.subarray(0, n)].sort((a, b) => a - b)).toEqual(
          order.slice(0, size).sort((a, b) => a - b),
        )
      }
    }
  })

  it('keeps weights paired with their ids while reordering', () => {
    const weights = [0.1, 0.5, 0.2, 0.2]
    const ids = Int32Array.of(0, 1, 2, 3)
    const reordered = Float64Array.from(weights)
    const n = selectNucleus(ids, reordered, 0.65)
    expect(n).toBe(2)
    for (let i = 0; i < ids.length; i++) expect(reordered[i]).toBe(weights[ids[i]!])
    expect([...ids.subarray(0, n)]).toEqual([1, 2])
  })
})
