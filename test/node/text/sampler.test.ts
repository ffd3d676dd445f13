import { describe, expect, it } from 'vitest'
import { createRng } from '../../../gpu-node/text/random.ts'
import { argmax, sampleToken } from '../../../gpu-node/text/sampler.ts'
import type { SamplingParams } from '../../../gpu-node/text/sampler.ts'

const GEMMA_VOCAB = 262_400
const PLAIN: SamplingParams = {
  temperature: 1,
  topP: 1,
  topK: 0,
  presencePenalty: 0,
  frequencyPenalty: 0,
}
const GREEDY: SamplingParams = { ...PLAIN, temperature: 0 }

/** A deterministic logits row: roughly normal values scaled by `spread`. */
function randomRow(seed: number, length: number, spread = 3): Float32Array {
  const rng = createRng(seed)
  return Float32Array.from({ length }, () => (rng.next() + rng.next() + rng.next() - 1.5) * spread)
}

/** Draw counts per id over `draws` samples with a fixed seed. */
function histogram(logits: Float32Array, params: SamplingParams, draws: number, seed = 1) {
  const rng = createRng(seed)
  const counts = new Array<number>(logits.length).fill(0)
  for (let i = 0; i < draws; i++) counts[sampleToken(logits, params, rng)]!++
  return counts
}

/** Pearson's chi-square statistic of observed counts against probabilities. */
function chiSquare(counts: number[], probabilities: number[]): number {
  const total = counts.reduce((a, b) => a + b, 0)
  return probabilities.reduce((sum, p, id) => sum + (counts[id]! - total * p) ** 2 / (total * p), 0)
}

const PROBS = [0.4, 0.25, 0.2, 0.1, 0.05]
const LOGITS = Float32Array.from(PROBS, Math.log)
const normalise = (weights: number[]) => weights.map((w) => w / weights.reduce((a, b) => a + b, 0))

describe('sampleToken greedy', () => {
  it('returns the argmax, ties to the lowest id, ignoring NaN', () => {
    expect(sampleToken(Float32Array.of(1, 3, 3, 2), GREEDY, createRng(1))).toBe(1)
    expect(sampleToken(Float32Array.of(NaN, 1, 2), GREEDY, createRng(1))).toBe(2)
    const row = randomRow(3, GEMMA_VOCAB)
    const best = row.indexOf(row.reduce((a, b) => Math.max(a, b)))
    expect(sampleToken(row, GREEDY, createRng(1))).toBe(best)
    expect(argmax(row)).toBe(best)
  })

  it('equals top-k 1 and a tiny top-p at any temperature', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const row = randomRow(seed, 5_000, 1)
      const best = argmax(row)
      expect(sampleToken(row, { ...PLAIN, temperature: 1.5, topK: 1 }, createRng(seed))).toBe(best)
      expect(sampleToken(row, { ...PLAIN, temperature: 1.5, topP: 1e-9 }, createRng(seed))).toBe(
        best,
      )
      expect(sampleToken(row, { ...PLAIN, topK: 40, topP: 1e-9 }, createRng(seed))).toBe(best)
    }
  })

  it('treats a vanishing temperature as greedy', () => {
    const row = Float32Array.of(0.5, 2, 1)
    expect(sampleToken(row, { ...PLAIN, temperature: 1e-320 }, createRng(1))).toBe(1)
  })

  it('returns 0 when no logit is finite', () => {
    const row = new Float32Array(8).fill(-Infinity)
    expect(sampleToken(row, PLAIN, createRng(1))).toBe(0)
  })
})

describe('sampleToken sampling', () => {
  it('repeats the same tokens for the same seed and logits', () => {
    const rows = Array.from({ length: 8 }, (_, i) => randomRow(i + 1, GEMMA_VOCAB, 4))
    const run = (seed: number, params: SamplingParams) => {
      const rng = createRng(seed)
      return rows.map((row) => sampleToken(row, params, rng))
    }
    for (const params of [
      { ...PLAIN, temperature: 0.8, topP: 0.9 },
      { ...PLAIN, topK: 64, topP: 0.95 },
      PLAIN,
    ]) {
      expect(run(123, params)).toEqual(run(123, params))
      expect(run(123, params)).not.toEqual(run(124, params))
    }
  })

  it('draws in proportion to softmax(logits / temperature)', () => {
    // 20,000 draws, 4 degrees of freedom: chi-square > 18.5 has probability 0.001 for a correct sampler.
    expect(chiSquare(histogram(LOGITS, PLAIN, 20_000), PROBS)).toBeLessThan(18.5)
    const hot = normalise(PROBS.map((p) => p ** 0.5))
    const counts = histogram(LOGITS, { ...PLAIN, temperature: 2 }, 20_000, 2)
    expect(chiSquare(counts, hot)).toBeLessThan(18.5)
    // A wrong temperature is rejected by the same bound.
    expect(chiSquare(counts, PROBS)).toBeGreaterThan(100)
  })

  it('renormalises over the top-k and the nucleus', () => {
    const topK = histogram(LOGITS, { ...PLAIN, topK: 3 }, 20_000)
    expect(topK.slice(3)).toEqual([0, 0])
    // 2 degrees of freedom: chi-square > 13.8 has probability 0.001.
    expect(chiSquare(topK.slice(0, 3), normalise(PROBS.slice(0, 3)))).toBeLessThan(13.8)
    // 0.4 + 0.25 = 0.65 >= 0.6: two ids; 0.65 < 0.7: a third is needed.
    expect(histogram(LOGITS, { ...PLAIN, topP: 0.6 }, 2_000).map((n) => n > 0)).toEqual([
      true,
      true,
      false,
      false,
      false,
    ])
    const nucleus = histogram(LOGITS, { ...PLAIN, topP: 0.7 }, 20_000)
    expect(nucleus.slice(3)).toEqual([0, 0])
    expect(chiSquare(nucleus.slice(0, 3), normalise(PROBS.slice(0, 3)))).toBeLessThan(13.8)
  })

  it('samples only from the nucleus on a full vocabulary', () => {
    const row = randomRow(5, GEMMA_VOCAB, 6)
    const order = Array.from(row, (_, id) => id).sort((a, b) => row[b]! - row[a]! || a - b)
    const max = row[order[0]!]!
    const weights = order.map((id) => Math.exp(row[id]! - max))
    const total = weights.reduce((a, b) => a + b, 0)
    let mass = 0
    let size = 0
    while (mass < 0.9 * total) mass += weights[size++]!
    const nucleus = new Set(order.slice(0, size))
    const rng = createRng(9)
    const seen = new Set<number>()
    for (let i = 0; i < 100; i++) seen.add(sampleToken(row, { ...PLAIN, topP: 0.9 }, rng))
    for (const id of seen) expect(nucleus.has(id)).toBe(true)
    expect(seen.size).toBeGreaterThan(5)
  })

  it('breaks a flat distribution into the lowest ids for top-p', () => {
    const flat = new Float32Array(GEMMA_VOCAB)
    const rng = createRng(4)
    const drawn = Array.from({ length: 30 }, () => sampleToken(flat, { ...PLAIN, topP: 0.5 }, rng))
    expect(Math.max(...drawn)).toBeLessThan(GEMMA_VOCAB / 2)
    expect(new Set(drawn).size).toBeGreaterThan(25)
  })
})

describe('sampleToken penalties', () => {
  const row = () => Float32Array.of(2, 1.9, 0)

  it('subtracts the presence penalty once for any generated id', () => {
    const counts = new Map([[0, 5]])
    expect(sampleToken(row(), GREEDY, createRng(1), counts)).toBe(0)
    expect(sampleToken(row(), { ...GREEDY, presencePenalty: 0.2 }, createRng(1), counts)).toBe(1)
  })

  it('subtracts the frequency penalty per occurrence', () => {
    const params = { ...GREEDY, frequencyPenalty: 0.05 }
    expect(sampleToken(row(), params, createRng(1), new Map([[0, 1]]))).toBe(0) // 1.95 > 1.9
    expect(sampleToken(row(), params, createRng(1), new Map([[0, 3]]))).toBe(1) // 1.85 < 1.9
  })

  it('can favour a repeated token with a negative penalty, and leaves the logits unchanged', () => {
    const logits = row()
    const params = { ...GREEDY, presencePenalty: -0.5 }
    expect(sampleToken(logits, params, createRng(1), new Map([[1, 1]]))).toBe(1)
    expect([...logits]).toEqual([...row()])
  })

  it('shifts the sampled distribution', () => {
    const counts = new Map([[0, 2]])
    const params = { ...PLAIN, frequencyPenalty: Math.log(2) / 2 } // halves the weight of id 0
    const rng = createRng(3)
    const hist = new Array<number>(5).fill(0)
    for (let i = 0; i < 20_000; i++) hist[sampleToken(LOGITS, params, rng, counts)]!++
    expect(chiSquare(hist, normalise([0.2, ...PROBS.slice(1)]))).toBeLessThan(18.5)
  })
})
