import { describe, expect, it } from 'vitest'
import { sampleCandidates } from '../../../gpu-node/text/candidate-sampler.ts'
import { argmax, createRng, sampleToken } from '../../../gpu-node/text/sampler.ts'
import type { SamplingParams } from '../../../gpu-node/text/sampler.ts'

const V = 5000
const K = 64
const base: SamplingParams = {
  temperature: 1,
  topP: 1,
  topK: 0,
  presencePenalty: 0,
  frequencyPenalty: 0,
}

function row(seed: number): Float32Array {
  const rng = createRng(seed)
  return Float32Array.from({ length: V }, () => (rng.next() - 0.5) * 12)
}

/** The top K of a row as the on-device TopK returns them: highest first, ties to the lower id. */
function top(logits: Float32Array, k = K) {
  const ids = [...logits.keys()].sort((a, b) => logits[b]! - logits[a]! || a - b).slice(0, k)
  return {
    ids,
    logits: Float32Array.from(ids, (id) => logits[id]!),
    logitOf: (id: number) => logits[id]!,
  }
}

describe('sampleCandidates', () => {
  it('is argmax when greedy, with or without penalties', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const logits = row(seed)
      const best = argmax(logits)
      expect(sampleCandidates(top(logits), { ...base, temperature: 0 }, createRng(1))).toBe(best)
      // A heavy penalty on the winner hands the choice to the runner-up.
      const counts = new Map([[best, 3]])
      const penalised = { ...base, temperature: 0, frequencyPenalty: 2, presencePenalty: 1 }
      const expected = sampleToken(logits.slice(), penalised, createRng(1), counts)
      expect(expected).not.toBe(best)
      expect(sampleCandidates(top(logits), penalised, createRng(1), counts)).toBe(expected)
    }
  })

  it('finds a penalised id that a negative penalty lifts from outside the candidates', () => {
    const logits = row(7)
    const outsider = top(logits, V).ids[V - 1]! // the lowest logit of all
    const counts = new Map([[outsider, 1]])
    const params = { ...base, temperature: 0, presencePenalty: -100 }
    expect(sampleCandidates(top(logits), params, createRng(1), counts)).toBe(outsider)
  })

  it('defers to the full row when the candidates cannot decide exactly', () => {
    const logits = row(3)
    expect(sampleCandidates(top(logits), { ...base, topK: 0, topP: 0.9 }, createRng(1))).toBeNull()
    expect(sampleCandidates(top(logits), { ...base, topK: K + 1 }, createRng(1))).toBeNull()
    const counts = new Map([
      [1, 1],
      [2, 1],
    ])
    const penalised = { ...base, topK: K - 1, presencePenalty: 0.5 }
    expect(sampleCandidates(top(logits), penalised, createRng(1), counts)).toBeNull()
  })

  it('draws the same ids without penalties as through the re-ranking that penalties take', () => {
    // A penalty too small to move any logit sends every draw through the re-ranking of the candidates,
    // which must agree with the unsorted path taken without penalties (the candidates come ranked).
    const logits = Float32Array.from(row(13), (v) => Math.round(v * 2) / 2) // ties at every rank
    const candidates = top(logits)
    const counts = new Map([[candidates.ids[3]!, 1]])
    for (const params of [
      { ...base, topK: 8, topP: 0.9, temperature: 0.7 },
      { ...base, topK: 40, topP: 1, temperature: 1.3 },
    ]) {
      const rngA = createRng(21)
      const rngB = createRng(21)
      const tiny = { ...params, frequencyPenalty: 1e-300 }
      for (let i = 0; i < 2_000; i++) {
        expect(sampleCandidates(candidates, params, rngA)).toBe(
          sampleCandidates(candidates, tiny, rngB, counts),
        )
      }
    }
  })

  it('samples the same distribution as the full-row sampler (top-k, top-p, temperature)', () => {
    const logits = row(11)
    const params = { ...base, topK: 8, topP: 0.9, temperature: 0.7 }
    const draws = 20_000
    const fast = new Map<number, number>()
    const full = new Map<number, number>()
    const rngA = createRng(5)
    const rngB = createRng(6)
    const candidates = top(logits)
    for (let i = 0; i < draws; i++) {
      const a = sampleCandidates(candidates, params, rngA)!
      const b = sampleToken(logits, params, rngB)
      fast.set(a, (fast.get(a) ?? 0) + 1)
      full.set(b, (full.get(b) ?? 0) + 1)
    }
    expect([...fast.keys()].sort()).toEqual([...full.keys()].sort())
    for (const [id, count] of full) {
      // Two independent samples of 20k draws: frequencies agree within a few standard errors.
      expect(Math.abs((fast.get(id) ?? 0) - count) / draws).toBeLessThan(0.02)
    }
  })
})
