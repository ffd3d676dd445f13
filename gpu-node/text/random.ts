/**
 * @module
 * Seeded random numbers for sampling: the same seed gives the same stream on every platform, so a request
 * with `seed` (OpenAI: int64, best effort) reproduces its tokens for the same logits. xoshiro128**
 * (Blackman & Vigna, https://prng.di.unimi.it/xoshiro128starstar.c) on 32-bit integer ops, no BigInt in the
 * hot path; the 64-bit seed is spread over the 128-bit state with the MurmurHash3 finalizer.
 */

/** A source of uniform numbers in [0, 1). */
export interface Rng {
  next(): number
}

const TWO_POW_26 = 67_108_864
const TWO_POW_32 = 4_294_967_296
const TWO_POW_53 = 9_007_199_254_740_992

const rotl = (x: number, k: number) => (x << k) | (x >>> (32 - k))

/** MurmurHash3 fmix32: a bijection on 32-bit words that spreads every input bit. */
function fmix32(value: number): number {
  let h = value | 0
  h = Math.imul(h ^ (h >>> 16), 0x85eb_ca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2_ae35)
  return h ^ (h >>> 16)
}

/** Low and high 32-bit words of a 64-bit seed (two's complement for negative seeds). */
function seedWords(seed: number | bigint): [number, number] {
  if (typeof seed === 'bigint') {
    return [Number(BigInt.asUintN(32, seed)), Number(BigInt.asUintN(32, seed >> 32n))]
  }
  if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`)
  return [seed >>> 0, Math.floor(seed / TWO_POW_32) >>> 0]
}

class Xoshiro128StarStar implements Rng {
  #s0: number
  #s1: number
  #s2: number
  #s3: number

  constructor(low: number, high: number) {
    // (s0, s1) is a bijection of the seed, so different seeds start from different states.
    this.#s0 = fmix32(low ^ 0x9e37_79b9)
    this.#s1 = fmix32(high ^ 0x7f4a_7c15)
    this.#s2 = fmix32(this.#s0 + 0x6a09_e667)
    this.#s3 = fmix32(this.#s1 ^ rotl(this.#s0, 16))
    // The all-zero state is a fixed point of xoshiro.
    if ((this.#s0 | this.#s1 | this.#s2 | this.#s3) === 0) this.#s0 = 1
  }

  #next32(): number {
    const result = Math.imul(rotl(Math.imul(this.#s1, 5), 7), 9)
    const t = this.#s1 << 9
    this.#s2 ^= this.#s0
    this.#s3 ^= this.#s1
    this.#s1 ^= this.#s2
    this.#s0 ^= this.#s3
    this.#s2 ^= t
    this.#s3 = rotl(this.#s3, 11)
    return result >>> 0
  }

  /** 53 random bits (a full double mantissa) from two 32-bit outputs. */
  next(): number {
    const high = this.#next32() >>> 5
    const low = this.#next32() >>> 6
    return (high * TWO_POW_26 + low) / TWO_POW_53
  }
}

/**
 * A deterministic generator for `seed` (any int64 as a bigint, or a safe integer).
 *
 * @example
 * const rng = createRng(42n)
 * const u = rng.next() // same value on every run
 */
export function createRng(seed: number | bigint): Rng {
  const [low, high] = seedWords(seed)
  return new Xoshiro128StarStar(low, high)
}
