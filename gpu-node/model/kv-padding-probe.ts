/**
 * @module
 * Which padding of the KV batch (kv-batch.ts) gives every sequence what it gets decoding alone, found by
 * running the decoder at load time rather than by reading its graph. Decoders differ in where they write a
 * step's keys (after the whole cache, or at each row's own length, as onnxruntime's `GroupQueryAttention`
 * does) and in how they read `attention_mask` (position by position, or only as a count), and whether the
 * real Gemma 3n export uses that operator is unconfirmed (gemma3n-contract.md §2). A padding that is wrong
 * for the decoder loads and runs without an error and quietly gives padded rows another row's attention,
 * so the only safe test is the output: a short script of steps is decoded with each sequence alone, then
 * in one batch with each padding; the first padding whose candidates match is used, and with none the
 * node decodes each sequence alone (correct, no batching gain).
 */
import type { KvPadding } from './kv-batch.ts'
import type { SamplingParams, StepItem } from './runner-types.ts'

/** The paddings tried, in order: `left` first, as it was the only one before and is right for most. */
export const PADDINGS: readonly KvPadding[] = ['left', 'right']

const GREEDY: SamplingParams = {
  temperature: 0,
  topP: 1,
  topK: 0,
  presencePenalty: 0,
  frequencyPenalty: 0,
}

/** Gemma's `<bos>`, and the contract models'. */
const BOS = 2

const prefill = (seqId: number, tokens: number[]): StepItem => ({
  seqId,
  phase: 'prefill',
  tokens,
  sampling: GREEDY,
  seed: 0,
})
const decode = (seqId: number): StepItem => ({
  seqId,
  phase: 'decode',
  tokens: [],
  sampling: GREEDY,
  seed: 0,
})

/** One step of the probe, and the sequences released after it. */
export interface ProbeStep {
  items: StepItem[]
  release: number[]
}

/**
 * Three prompts of different lengths: two join together, a third joins the running batch, the longest
 * leaves so the padding is trimmed, and the two left decode on. That covers every rewrite of the batch:
 * join, one step's growth, and removal. The ids are spread over the vocabulary below its last tenth,
 * which in Gemma's is ordinary words (its low ids are control and unused tokens, whose near-equal
 * embeddings could hide a row that lost its context; its highest are the image and audio soft tokens).
 */
export function probeSteps(vocabSize: number): ProbeStep[] {
  const words = (from: number, count: number) =>
    Array.from({ length: count }, (_, i) => Math.floor(vocabSize * (from + 0.037 * i)))
  return [
    {
      items: [prefill(1, [BOS, ...words(0.3, 6)]), prefill(2, [BOS, ...words(0.5, 2)])],
      release: [],
    },
    { items: [decode(1), decode(2), prefill(3, [BOS, ...words(0.7, 3)])], release: [1] },
    { items: [decode(2), decode(3)], release: [] },
    { items: [decode(2), decode(3)], release: [2, 3] },
  ]
}

/** Every sampled position's top candidate logits, by `<sequence>@<step>`. */
export type ProbeObservations = Map<string, Float32Array>

/**
 * Candidates match when their logits, largest first, agree within float rounding. Batched and alone runs
 * may take different kernels (float16 on a GPU), so the bound is relative: a wrong padding changes what a
 * row attends to and moves its logits by far more.
 */
export function sameCandidates(alone: Float32Array, batched: Float32Array): boolean {
  const a = Array.from(alone).sort((x, y) => y - x)
  const b = Array.from(batched).sort((x, y) => y - x)
  if (a.length !== b.length || a.length === 0) return false
  const scale = Math.max(...a.map(Math.abs))
  const bound = 1e-3 + 0.01 * scale
  return a.every((value, i) => Math.abs(value - b[i]!) <= bound)
}

/** The positions where `batched` differs from `alone` (a missing one counts). */
export function mismatches(alone: ProbeObservations, batched: ProbeObservations): string[] {
  const differing: string[] = []
  for (const [position, candidates] of alone) {
    const other = batched.get(position)
    if (!other || !sameCandidates(candidates, other)) differing.push(position)
  }
  return differing
}

export interface PaddingChoice {
  /** The padding to batch with; `null`: decode each sequence alone. */
  padding: KvPadding | null
  /** Why each padding tried before it (or every one, with `null`) was refused. */
  refused: string[]
}

/**
 * Runs the probe alone (`null`), then with each padding until one matches.
 * @param run decodes `PROBE_STEPS` with the given padding (`null`: each sequence alone) and returns what
 *   it observed; it may throw, which refuses that padding.
 */
export async function choosePadding(
  run: (padding: KvPadding | null) => Promise<ProbeObservations>,
): Promise<PaddingChoice> {
  const alone = await run(null)
  const refused: string[] = []
  for (const padding of PADDINGS) {
    try {
      const differing = mismatches(alone, await run(padding))
      if (differing.length === 0) return { padding, refused }
      refused.push(`${padding} padding changed the output (at ${differing.join(', ')})`)
    } catch (error) {
      refused.push(`${padding} padding failed (${String(error)})`)
    }
  }
  return { padding: null, refused }
}
