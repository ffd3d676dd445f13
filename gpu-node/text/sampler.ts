/**
 * @module
 * Picks the next token from one logits row (`[vocab]`, e.g. 262,400 floats for Gemma 3n; may be a view
 * into a `[batch, vocab]` tensor). Runs every decode step for every sequence, so nothing sorts the
 * vocabulary. Cost for V logits and P penalised ids:
 * - greedy (temperature 0, or topK 1): one pass, O(V + P);
 * - topK > 0: one bounded-heap pass, O(V log k) worst case and ~O(V) in practice (top-k.ts), then O(k)
 *   softmax, expected O(k) top-p quickselect (nucleus.ts) and O(k) draw;
 * - topK 0: three passes over V with one exp per plausible id, then O(C) over a bounded candidate set of
 *   C ids (full-vocab.ts).
 * Order as in transformers' logits processors: penalties, temperature, top-k, top-p, then one draw.
 */
import { sampleFullVocab } from './full-vocab.ts'
import { selectNucleus } from './nucleus.ts'
import type { Rng } from './random.ts'
import { selectTopK } from './top-k.ts'
import { drawIndex, totalWeight } from './weighted-draw.ts'

export { createRng } from './random.ts'
export type { Rng } from './random.ts'

export interface SamplingParams {
  /** 0 = greedy. */
  temperature: number
  /** Nucleus mass in (0, 1]; 1 = off. */
  topP: number
  /** 0 = off. */
  topK: number
  presencePenalty: number
  frequencyPenalty: number
}

/** Index of the largest logit in one pass; ties go to the lowest id, NaN is ignored. */
export function argmax(logits: Float32Array): number {
  let best = 0
  let bestValue = -Infinity
  for (let i = 0; i < logits.length; i++) {
    const value = logits[i]!
    if (value > bestValue) {
      bestValue = value
      best = i
    }
  }
  return best
}

/**
 * OpenAI penalties (`logit -= count * frequency + (count > 0) * presence`), written into `logits` for the
 * few generated ids; returns the function that puts the original values back.
 */
function applyPenalties(
  logits: Float32Array,
  params: SamplingParams,
  counts: Map<number, number> | undefined,
): () => void {
  const { presencePenalty, frequencyPenalty } = params
  if (!counts || counts.size === 0 || (presencePenalty === 0 && frequencyPenalty === 0)) {
    return () => {}
  }
  const saved: [number, number][] = []
  for (const [id, count] of counts) {
    if (count <= 0 || id < 0 || id >= logits.length) continue
    saved.push([id, logits[id]!])
    logits[id] = logits[id]! - count * frequencyPenalty - presencePenalty
  }
  return () => {
    for (const [id, value] of saved) logits[id] = value
  }
}

/** Top-k candidates with their unnormalised softmax weights exp((logit - max) / T), NaN/-Infinity → 0. */
function topKCandidates(logits: Float32Array, k: number, temperature: number) {
  const ids = selectTopK(logits, k)
  let max = -Infinity
  for (const id of ids) if (logits[id]! > max) max = logits[id]!
  const weights = new Float64Array(ids.length)
  for (let i = 0; i < ids.length; i++) {
    const weight = Math.exp((logits[ids[i]!]! - max) / temperature)
    weights[i] = weight === weight ? weight : 0
  }
  return { ids, weights, max }
}

/**
 * Samples one token id.
 *
 * `logits` is modified in place for the penalised ids during the call and restored before it returns.
 * `counts` holds how often each id was generated so far (OpenAI penalty semantics; prompt ids excluded).
 * Consumes one `rng.next()` per non-greedy call, none when greedy. If no logit is finite, returns 0.
 *
 * @example
 * const id = sampleToken(row, { temperature: 1, topP: 0.95, topK: 64, presencePenalty: 0,
 *   frequencyPenalty: 0 }, createRng(seed), counts)
 */
export function sampleToken(
  logits: Float32Array,
  params: SamplingParams,
  rng: Rng,
  counts?: Map<number, number>,
): number {
  const restore = applyPenalties(logits, params, counts)
  try {
    const { temperature, topK, topP } = params
    // A temperature so small that 1 / T overflows is greedy in the limit.
    if (!(temperature > 0) || !Number.isFinite(1 / temperature) || topK === 1) return argmax(logits)
    if (topK > 0 && topK < logits.length) {
      const { ids, weights, max } = topKCandidates(logits, topK, temperature)
      if (!Number.isFinite(max)) return argmax(logits)
      const kept = topP < 1 ? selectNucleus(ids, weights, topP * totalWeight(weights)) : ids.length
      return ids[drawIndex(weights, kept, rng.next() * totalWeight(weights, kept))]!
    }
    const max = logits[argmax(logits)]!
    if (!Number.isFinite(max)) return argmax(logits)
    return sampleFullVocab(logits, max, temperature, topP, rng)
  } finally {
    restore()
  }
}
