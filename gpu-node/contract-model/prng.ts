/**
 * @module contract-model/prng
 * Seeded weights: mulberry32 streams keyed by (seed, tensor name), so a tensor's bytes depend only on
 * the seed and its name, not on the order the graphs are built in.
 */

/** 32-bit FNV-1a of a string, used to derive one PRNG stream per tensor name. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** mulberry32: a tiny, fast 32-bit PRNG; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * `count` floats uniform in [-scale*sqrt(3), scale*sqrt(3)): standard deviation `scale`.
 * @example randomWeights(1, 'layer0.wq', 64 * 64, 1 / 8)
 */
export function randomWeights(
  seed: number,
  name: string,
  count: number,
  scale: number,
): Float32Array {
  const next = mulberry32(fnv1a(`${seed}:${name}`))
  const out = new Float32Array(count)
  const width = 2 * Math.sqrt(3) * scale
  for (let i = 0; i < count; i++) out[i] = (next() - 0.5) * width
  return out
}
