/**
 * @module
 * Temperature and top-p sampling over a whole logits row (`[vocab]`) when top-k is off, without sorting
 * and with a bounded candidate set. One pass computes every weight exp((logit - max) / T) into a
 * histogram of `BUCKETS_PER_NAT` buckets per nat below the maximum (mass and count per bucket), which
 * gives the exact normaliser Z. The buckets then say where the answer lies: for top-p, the buckets up to
 * the one where the cumulative mass reaches topP × Z (the nucleus boundary falls inside it); for plain
 * sampling, the one bucket where u × Z falls. A second pass collects only those ids (the count is known,
 * so one exact allocation), and the choice among them is exact. Flat rows still work: everything lands in
 * a few buckets and the candidate set is simply large.
 * Cost: 3 passes over V (max; histogram, with a cheap exp per id within `CUTOFF`; collect) + O(C) for
 * C collected candidates.
 */
import { selectNucleus } from './nucleus.ts'
import type { Rng } from './random.ts'
import { drawIndex, totalWeight } from './weighted-draw.ts'

/**
 * Ids more than this many nats below the best have probability < e^-30 ≈ 9e-14 relative to it; all of
 * them together (< 262,400 × 9e-14 ≈ 2.5e-8) are below float32 resolution, so they are left out.
 */
const CUTOFF = 30
const BUCKETS_PER_NAT = 2
const BUCKETS = CUTOFF * BUCKETS_PER_NAT

/** e^(-b / BUCKETS_PER_NAT): the weight at the top of bucket b. */
const BUCKET_TOP = Float64Array.from({ length: BUCKETS }, (_, b) => Math.exp(-b / BUCKETS_PER_NAT))

interface Histogram {
  mass: Float64Array
  count: Int32Array
  total: number
}

/**
 * e^-x for x in [0, 1 / BUCKETS_PER_NAT) = [0, 0.5): degree-8 Taylor polynomial, relative error < 1e-8
 * (far below float32 logits). Math.exp costs about 3× as much, and this runs for most of the 262k ids.
 */
function expNegSmall(x: number): number {
  const t8 = 1 - x / 8
  const t7 = 1 - (x / 7) * t8
  const t6 = 1 - (x / 6) * t7
  const t5 = 1 - (x / 5) * t6
  const t4 = 1 - (x / 4) * t5
  const t3 = 1 - (x / 3) * t4
  return 1 - x * (1 - (x / 2) * t3)
}

/** Distance of a logit below `max` in buckets (after temperature); NaN/-Infinity give NaN/Infinity. */
const bucketDistance = (logit: number, max: number, scale: number) => (max - logit) * scale

/** The weight exp((logit - max) / T) of an id at bucket distance `d` (0 <= d < BUCKETS). */
function weightAt(d: number): number {
  const bucket = d | 0
  return BUCKET_TOP[bucket]! * expNegSmall((d - bucket) / BUCKETS_PER_NAT)
}

function histogram(logits: Float32Array, max: number, scale: number): Histogram {
  const mass = new Float64Array(BUCKETS)
  const count = new Int32Array(BUCKETS)
  for (let i = 0; i < logits.length; i++) {
    const d = bucketDistance(logits[i]!, max, scale)
    if (!(d < BUCKETS)) continue
    mass[d | 0]! += weightAt(d)
    count[d | 0]!++
  }
  return { mass, count, total: totalWeight(mass) }
}

/** The ids (in id order) and weights of buckets `first..last`. */
function collect(
  logits: Float32Array,
  max: number,
  scale: number,
  hist: Histogram,
  [first, last]: [number, number],
) {
  let size = 0
  for (let b = first; b <= last; b++) size += hist.count[b]!
  const ids = new Int32Array(size)
  const weights = new Float64Array(size)
  for (let i = 0, n = 0; n < size; i++) {
    const d = bucketDistance(logits[i]!, max, scale)
    if (!(d < last + 1) || d < first) continue
    ids[n] = i
    weights[n++] = weightAt(d)
  }
  return { ids, weights }
}

/** First bucket where the cumulative mass exceeds (or, with `inclusive`, reaches) `target`, and the mass before it. */
function bucketAt(mass: Float64Array, target: number, inclusive: boolean): [number, number] {
  let before = 0
  for (let b = 0; b < BUCKETS; b++) {
    const after = before + mass[b]!
    if (after > target || (inclusive && after >= target && mass[b]! > 0)) return [b, before]
    before = after
  }
  let last = BUCKETS - 1
  while (last > 0 && mass[last] === 0) last--
  return [last, before - mass[last]!]
}

/**
 * Samples one id from softmax(logits / temperature), restricted to the top-p nucleus when `topP < 1`.
 * `max` is the row's largest logit (finite); `temperature > 0`. Consumes one `rng.next()`.
 */
export function sampleFullVocab(
  logits: Float32Array,
  max: number,
  temperature: number,
  topP: number,
  rng: Rng,
): number {
  const scale = BUCKETS_PER_NAT / temperature
  const hist = histogram(logits, max, scale)
  if (topP < 1) {
    const need = topP * hist.total
    const [last] = bucketAt(hist.mass, need, true)
    const { ids, weights } = collect(logits, max, scale, hist, [0, last])
    const kept = selectNucleus(ids, weights, need)
    return ids[drawIndex(weights, kept, rng.next() * totalWeight(weights, kept))]!
  }
  const target = rng.next() * hist.total
  const [bucket, before] = bucketAt(hist.mass, target, false)
  const { ids, weights } = collect(logits, max, scale, hist, [bucket, bucket])
  return ids[drawIndex(weights, ids.length, target - before)]!
}
