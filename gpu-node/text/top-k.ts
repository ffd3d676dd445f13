/**
 * @module
 * Top-k candidate selection over a logits row with a bounded min-heap: O(V log k) worst case and close to
 * O(V) in practice, because after the first few thousand entries almost every logit loses to the heap's
 * minimum in one comparison. No sort of the vocabulary.
 */

/**
 * Ids of the `k` largest logits (ties go to the lower id), in heap order. NaN counts as -Infinity.
 *
 * @example
 * selectTopK(Float32Array.of(0.1, 3, 2, 3), 2) // ids 1 and 3, in some order
 */
export function selectTopK(logits: Float32Array, k: number): Int32Array {
  const size = Math.min(k, logits.length)
  const ids = new Int32Array(size)
  const values = new Float64Array(size)
  // The root is the worst kept entry: lowest value, and among equal values the highest id.
  const worse = (a: number, b: number) =>
    values[a]! < values[b]! || (values[a] === values[b] && ids[a]! > ids[b]!)
  const siftDown = (start: number) => {
    let parent = start
    for (;;) {
      const left = 2 * parent + 1
      if (left >= size) return
      const right = left + 1
      const child = right < size && worse(right, left) ? right : left
      if (!worse(child, parent)) return
      const id = ids[parent]!
      const value = values[parent]!
      ids[parent] = ids[child]!
      values[parent] = values[child]!
      ids[child] = id
      values[child] = value
      parent = child
    }
  }
  for (let i = 0; i < size; i++) {
    const value = logits[i]!
    ids[i] = i
    values[i] = value === value ? value : -Infinity
  }
  for (let i = (size >> 1) - 1; i >= 0; i--) siftDown(i)
  // Later ids are higher, so an equal logit never displaces a kept one: strict > keeps ties on the lower id.
  for (let i = size; i < logits.length; i++) {
    const value = logits[i]!
    if (value > values[0]!) {
      ids[0] = i
      values[0] = value
      siftDown(0)
    }
  }
  return ids
}
