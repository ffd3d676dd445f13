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
import type { RowCandidates } from './sampling-head.ts'

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
/**
 * A decode step with its input given, not the token sampled last: a rounding difference between the
 * batched and the lone run (float16 on a GPU) that flips a near tie would otherwise feed the two runs
 * different tokens from then on, and refuse a padding that is right.
 */
const decode = (seqId: number, token: number): StepItem => ({
  seqId,
  phase: 'decode',
  tokens: [token],
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
  const [a, b, c, d, e, f] = words(0.68, 6) as [number, number, number, number, number, number]
  return [
    {
      items: [prefill(1, [BOS, ...words(0.3, 6)]), prefill(2, [BOS, ...words(0.5, 2)])],
      release: [],
    },
    { items: [decode(1, a), decode(2, b), prefill(3, [BOS, ...words(0.58, 3)])], release: [1] },
    { items: [decode(2, c), decode(3, d)], release: [] },
    { items: [decode(2, e), decode(3, f)], release: [2, 3] },
  ]
}

/** Every sampled position's top candidates, by `<sequence>@<step>`. */
export type ProbeObservations = Map<string, RowCandidates>

/** How many of a row's best candidates are compared. */
const COMPARED = 8

/**
 * Candidates match when each of the lone run's best ids has, in the batched run, its logit within float
 * rounding. Batched and lone runs may take different kernels (float16 on a GPU), so the bound is relative:
 * a wrong padding changes what a row attends to and moves its logits by far more. Ids are compared, not
 * only values: another distribution with a similar spread of top values does not pass.
 */
export function sameCandidates(alone: RowCandidates, batched: RowCandidates): boolean {
  if (alone.ids.length === 0) return false
  const count = Math.min(COMPARED, alone.ids.length)
  let scale = 0
  for (let i = 0; i < count; i++) scale = Math.max(scale, Math.abs(alone.logits[i]!))
  const bound = 1e-3 + 0.01 * scale
  for (let i = 0; i < count; i++) {
    const j = batched.ids.indexOf(alone.ids[i]!)
    if (j === -1 || Math.abs(batched.logits[j]! - alone.logits[i]!) > bound) return false
  }
  return true
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
 * @param run decodes `probeSteps` with the given padding (`null`: each sequence alone) and returns what
 *   it observed; it may throw, which refuses that padding.
 */
export async function choosePadding(
  run: (padding: KvPadding | null) => Promise<ProbeObservations>,
): Promise<PaddingChoice> {
  let alone: ProbeObservations
  try {
    alone = await run(null)
  } catch (error) {
    const message = `the load-time probe of batched decoding failed decoding alone: ${String(error)}`
    throw new Error(message, { cause: error })
  }
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

/** What the probe drives: the runner, with its batch set from outside. */
export interface ProbeTarget {
  vocabSize: number
  /** Decode steps from now on use a fresh batch padded so (`null`: each sequence alone). */
  useBatch(padding: KvPadding | null): void
  step(items: StepItem[]): Promise<unknown>
  release(seqIds: number[]): Promise<unknown>
  /** Sees each sampled row's candidates while set; `null` stops it. */
  observe(tap: ((seqId: number, top: RowCandidates) => void) | null): void
  /** Drops the batch, then every sequence, whatever a failed trial left behind. */
  reset(): Promise<void>
}

/**
 * Decodes the probe's steps on `target` for each padding (kv-padding-probe.ts `choosePadding`) and leaves
 * it with no sequence and no batch.
 */
export function probePadding(target: ProbeTarget): Promise<PaddingChoice> {
  const steps = probeSteps(target.vocabSize)
  return choosePadding(async (padding) => {
    target.useBatch(padding)
    const seen: ProbeObservations = new Map()
    let step = 0
    target.observe((seqId, top) =>
      seen.set(`${seqId}@${step}`, { ids: top.ids.slice(), logits: top.logits.slice() }),
    )
    try {
      for (; step < steps.length; step++) {
        await target.step(steps[step]!.items)
        await target.release(steps[step]!.release)
      }
      return seen
    } finally {
      target.observe(null)
      await target.reset()
    }
  })
}
