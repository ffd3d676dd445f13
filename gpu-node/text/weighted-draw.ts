/**
 * @module
 * Inverse-CDF draw over unnormalised candidate weights, shared by the sampler's top-k and full-vocabulary
 * paths. O(n) for n candidates.
 */

/**
 * Index of the first candidate whose cumulative weight exceeds `target` (a uniform draw times the total
 * weight of the first `count` entries).
 *
 * @example
 * const i = drawIndex(weights, weights.length, rng.next() * total)
 */
export function drawIndex(weights: Float64Array, count: number, target: number): number {
  let cumulative = 0
  for (let i = 0; i < count; i++) {
    cumulative += weights[i]!
    if (cumulative > target) return i
  }
  // Rounding can put the target at the full sum: take the last candidate that has any weight.
  let last = count - 1
  while (last > 0 && weights[last] === 0) last--
  return last
}

/** Sum of the first `count` weights. */
export function totalWeight(weights: Float64Array, count = weights.length): number {
  let total = 0
  for (let i = 0; i < count; i++) total += weights[i]!
  return total
}
