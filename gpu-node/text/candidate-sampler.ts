/**
 * @module
 * Sampling from the top candidates of a logits row instead of the whole row. The model runner computes the
 * top K logits per row on the device (model/sampling-head.ts), so JavaScript touches K values per sequence
 * instead of 262,400. Exact, not an approximation: it answers only when the K candidates provably contain
 * everything the full-row sampler could pick, and returns `null` otherwise (the caller then samples the
 * full row with sampler.ts):
 * - greedy, or top-k with k <= K - (penalised ids): penalties only move a few known ids, so the true top-k
 *   after penalties lies within the pre-penalty top (k + penalised) plus the penalised ids themselves;
 * - top-k off (0): the nucleus may need the whole vocabulary, so this always defers.
 */
import { selectNucleus } from './nucleus.ts'
import type { Rng } from './random.ts'
import type { SamplingParams } from './sampler.ts'
import { drawIndex, totalWeight } from './weighted-draw.ts'

export interface Candidates {
  /** Token ids of the top K logits, highest first (ties: lower id first, as ONNX TopK orders them). */
  ids: ArrayLike<number>
  logits: ArrayLike<number>
  /** A logit of the full row, read only for penalised ids that are not among the candidates. */
  logitOf(id: number): number
}

/**
 * @returns the sampled id, or `null` when K candidates cannot decide exactly.
 * @example const id = sampleCandidates(top, params, rng, counts) ?? sampleToken(row, params, rng, counts)
 */
export function sampleCandidates(
  top: Candidates,
  params: SamplingParams,
  rng: Rng,
  counts?: Map<number, number>,
): number | null {
  const penalised = penalties(params, counts)
  const greedy = isGreedy(params)
  if (greedy && penalised.size === 0) return top.ids.length > 0 ? top.ids[0]! : null
  const k = greedy ? 1 : params.topK
  if (k <= 0 || k > top.ids.length - penalised.size) return null

  const { ids, logits } = penalised.size === 0 ? firstK(top, k) : rerank(top, penalised, k)
  if (greedy) return ids[0]!
  if (!Number.isFinite(logits[0]!)) return null

  const max = logits[0]!
  const weights = Float64Array.from(logits, (logit) => {
    const weight = Math.exp((logit - max) / params.temperature)
    return weight === weight ? weight : 0
  })
  const kept =
    params.topP < 1 ? selectNucleus(ids, weights, params.topP * totalWeight(weights)) : ids.length
  return ids[drawIndex(weights, kept, rng.next() * totalWeight(weights, kept))]!
}

interface Ranked {
  ids: Int32Array
  logits: Float64Array
}

/**
 * The first K candidates: they come ranked as `rerank` ranks them (highest logit first, ties to the lower
 * id), so without penalties nothing needs sorting. This runs for every sampled row every step.
 */
function firstK(top: Candidates, k: number): Ranked {
  const ids = new Int32Array(k)
  const logits = new Float64Array(k)
  for (let i = 0; i < k; i++) {
    ids[i] = top.ids[i]!
    logits[i] = top.logits[i]!
  }
  return { ids, logits }
}

/** The K best after penalties: the candidates and the penalised ids, re-ranked. */
function rerank(top: Candidates, penalised: Map<number, number>, k: number): Ranked {
  const pool = new Map<number, number>()
  for (let i = 0; i < top.ids.length; i++) pool.set(top.ids[i]!, top.logits[i]!)
  for (const [id, delta] of penalised) pool.set(id, (pool.get(id) ?? top.logitOf(id)) - delta)
  const ranked = [...pool].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, k)
  return {
    ids: Int32Array.from(ranked, ([id]) => id),
    logits: Float64Array.from(ranked, ([, logit]) => logit),
  }
}

/**
 * Whether `sampleCandidates`, given `candidates` per row, may read the whole row for these parameters:
 * through `logitOf` or by returning `null`. False means the candidates alone decide, whatever the logits,
 * except for a row whose best logit is not finite (NaN or infinite: a broken model). The runner fetches a
 * step's logits only when some row may read them (model/fused-sampling-head.ts).
 */
export function readsFullRow(
  params: SamplingParams,
  counts: Map<number, number> | undefined,
  candidates: number,
): boolean {
  if (penalties(params, counts).size > 0) return true
  return !isGreedy(params) && (params.topK <= 0 || params.topK > candidates)
}

function isGreedy(params: SamplingParams): boolean {
  return !(params.temperature > 0) || !Number.isFinite(1 / params.temperature) || params.topK === 1
}

/** How much each generated id's logit drops (OpenAI: count x frequency + presence). */
function penalties(params: SamplingParams, counts?: Map<number, number>): Map<number, number> {
  const deltas = new Map<number, number>()
  if (!counts || (params.presencePenalty === 0 && params.frequencyPenalty === 0)) return deltas
  for (const [id, count] of counts) {
    if (count > 0) deltas.set(id, count * params.frequencyPenalty + params.presencePenalty)
  }
  return deltas
}
