import { describe, expect, it } from 'vitest'
import { createRng } from '../../../gpu-node/text/random.ts'

const take = (seed: number | bigint, n: number) => {
  const rng = createRng(seed)
  return Array.from({ length: n }, () => rng.next())
}

describe('createRng', () => {
  it('repeats the same stream for the same seed', () => {
    expect(take(42, 100)).toEqual(take(42, 100))
    expect(take(42, 100)).toEqual(take(42n, 100))
  })

  it('reads a seed as int64: negative numbers and bigints agree', () => {
    expect(take(-1, 10)).toEqual(take(-1n, 10))
    expect(take(-1n, 10)).toEqual(take(2n ** 64n - 1n, 10))
    expect(take(2 ** 40 + 7, 10)).toEqual(take(2n ** 40n + 7n, 10))
  })

  it('gives different streams for seeds that differ in either 32-bit half', () => {
    const streams = [0, 1, 2 ** 32, 2 ** 32 + 1, -1].map((seed) => take(seed, 4).join())
    expect(new Set(streams).size).toBe(streams.length)
  })

  it('draws uniformly from [0, 1)', () => {
    const values = take(7, 100_000)
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0)
    expect(Math.max(...values)).toBeLessThan(1)
    const mean = values.reduce((a, b) => a + b, 0) / values.length
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.005)
    const deciles = new Array<number>(10).fill(0)
    for (const value of values) deciles[Math.floor(value * 10)]!++
    for (const count of deciles) expect(Math.abs(count - 10_000)).toBeLessThan(500)
  })

  it('rejects a fractional seed', () => {
    expect(() => createRng(1.5)).toThrow(RangeError)
  })
})
