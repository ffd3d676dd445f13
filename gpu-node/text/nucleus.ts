/**
 * @module
 * Top-p (nucleus) selection without sorting: a quickselect on probability mass. Each round partitions the
 * undecided candidates around a pivot weight into heavier / equal / lighter groups and keeps only the group
 * the nucleus boundary falls in, so the expected cost is O(C) for C candidates instead of O(C log C).
 */

/**
 * Reorders `ids`/`weights` (parallel, weights >= 0, not necessarily normalised) in place so that the first
 * `n` entries are the smallest set of most likely candidates whose weight reaches `target`, and returns
 * `n` (at least 1). Among equal weights at the boundary the lower ids are kept, as a stable sort would.
 *
 * @example
 * const n = selectNucleus(ids, weights, 0.9 * totalWeight)
 */
export function selectNucleus(ids: Int32Array, weights: Float64Array, target: number): number {
  let lo = 0 // ids[0:lo] are in the nucleus
  let hi = ids.length // ids[hi:] are out
  let need = target
  while (lo < hi) {
    const pivot = medianOfThree(weights[lo]!, weights[(lo + hi) >> 1]!, weights[hi - 1]!)
    const [heavyEnd, equalEnd] = partition(ids, weights, lo, hi, pivot)
    const heavy = sum(weights, lo, heavyEnd)
    if (heavyEnd > lo && heavy >= need) {
      hi = heavyEnd
      continue
    }
    const equal = sum(weights, heavyEnd, equalEnd)
    if (heavy + equal >= need) {
      // All weights in the equal group are the same: order it by id and take what is needed.
      ids.subarray(heavyEnd, equalEnd).sort()
      let taken = heavyEnd
      let mass = heavy
      do mass += weights[taken++]!
      while (mass < need && taken < equalEnd)
      return taken
    }
    need -= heavy + equal
    lo = equalEnd
  }
  // Rounding left `need` above the total: everything not excluded is in.
  return Math.max(hi, 1)
}

function medianOfThree(a: number, b: number, c: number): number {
  if (a < b) return b < c ? b : a < c ? c : a
  return a < c ? a : b < c ? c : b
}

function sum(weights: Float64Array, from: number, to: number): number {
  let total = 0
  for (let i = from; i < to; i++) total += weights[i]!
  return total
}

/** Three-way partition of [lo, hi): weights > pivot, then == pivot, then < pivot. */
function partition(
  ids: Int32Array,
  weights: Float64Array,
  lo: number,
  hi: number,
  pivot: number,
): [number, number] {
  let heavyEnd = lo
  let i = lo
  let lightStart = hi
  const swap = (a: number, b: number) => {
    const id = ids[a]!
    const weight = weights[a]!
    ids[a] = ids[b]!
    weights[a] = weights[b]!
    ids[b] = id
    weights[b] = weight
  }
  while (i < lightStart) {
    const weight = weights[i]!
    if (weight > pivot) swap(i++, heavyEnd++)
    else if (weight < pivot) swap(i, --lightStart)
    else i++
  }
  return [heavyEnd, lightStart]
}
