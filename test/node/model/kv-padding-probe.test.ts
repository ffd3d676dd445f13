/**
 * How the load picks the KV batch's padding (kv-padding-probe.ts): the first padding whose candidates
 * match decoding alone, none when every padding changes the output or fails, and a comparison that
 * forgives float rounding but not a changed logit or another id. The real decoders' choices are tested in
 * batching.test.ts.
 */
import { describe, expect, it } from 'vitest'
import type { KvPadding } from '../../../gpu-node/model/kv-batch.ts'
import {
  choosePadding,
  mismatches,
  probeSteps,
  sameCandidates,
} from '../../../gpu-node/model/kv-padding-probe.ts'
import type { ProbeObservations } from '../../../gpu-node/model/kv-padding-probe.ts'
import type { RowCandidates } from '../../../gpu-node/model/sampling-head.ts'

const row = (ids: number[], logits: number[]): RowCandidates => ({
  ids: Int32Array.from(ids),
  logits: Float32Array.from(logits),
})

const ALONE: ProbeObservations = new Map([
  ['1@0', row([7, 3, 9], [12.5, 11, 9.25])],
  ['2@0', row([4, 5, 6], [3, 2, -1])],
])

/** The alone observations with the second logit of `position` moved by `delta`. */
function moved(position: string, delta: number): ProbeObservations {
  const copy = new Map(
    [...ALONE].map(([key, value]) => [key, row([...value.ids], [...value.logits])]),
  )
  copy.get(position)!.logits[1]! += delta
  return copy
}

describe('sameCandidates', () => {
  it('forgives float rounding, and a near tie listed in the other order', () => {
    expect(
      sameCandidates(row([7, 3, 9], [12.5, 11, 9.25]), row([7, 3, 9], [12.5001, 11, 9.2499])),
    ).toBe(true)
    expect(sameCandidates(row([1, 2], [5, 4.999]), row([2, 1], [4.9995, 5]))).toBe(true)
  })

  it('refuses a changed logit, the same values on other ids, an id gone, or nothing at all', () => {
    expect(
      sameCandidates(row([7, 3, 9], [12.5, 11, 9.25]), row([7, 3, 9], [12.5, 10.5, 9.25])),
    ).toBe(false)
    expect(sameCandidates(row([7, 3, 9], [12.5, 11, 9.25]), row([3, 7, 9], [12.5, 11, 9.25]))).toBe(
      false,
    )
    expect(sameCandidates(row([7, 3], [12.5, 11]), row([7, 8], [12.5, 11]))).toBe(false)
    expect(sameCandidates(row([], []), row([], []))).toBe(false)
  })
})

describe('choosePadding', () => {
  it('takes the first padding that matches decoding alone', async () => {
    const runs: (KvPadding | null)[] = []
    const choice = await choosePadding(async (padding) => {
      runs.push(padding)
      return padding === 'left' ? moved('2@0', 0.7) : ALONE
    })
    expect(choice.padding).toBe('right')
    expect(runs).toEqual([null, 'left', 'right'])
    expect(choice.refused).toEqual(['left padding changed the output (at 2@0)'])
  })

  it('stops at left padding when it matches', async () => {
    const runs: (KvPadding | null)[] = []
    const choice = await choosePadding(async (padding) => (runs.push(padding), ALONE))
    expect(choice).toEqual({ padding: 'left', refused: [] })
    expect(runs).toEqual([null, 'left'])
  })

  it('decodes alone when every padding changes the output or fails', async () => {
    const choice = await choosePadding(async (padding) => {
      if (padding === 'right') throw new Error('shape mismatch')
      return padding === 'left' ? new Map([...ALONE].slice(0, 1)) : ALONE
    })
    expect(choice.padding).toBeNull()
    expect(choice.refused).toEqual([
      'left padding changed the output (at 2@0)',
      'right padding failed (Error: shape mismatch)',
    ])
  })

  it('says the failure of the lone run came from the probe', async () => {
    const failing = choosePadding(async () => {
      throw new Error('out of memory')
    })
    await expect(failing).rejects.toThrow(
      'the load-time probe of batched decoding failed decoding alone: Error: out of memory',
    )
  })

  it('compares every sampled position', () => {
    expect(mismatches(ALONE, moved('1@0', 0.5))).toEqual(['1@0'])
    expect(mismatches(ALONE, ALONE)).toEqual([])
  })
})

describe('the probe script', () => {
  it.each([1024, 262_400])(
    'joins rows of different lengths, then a running batch, and trims after the longest leaves (vocabulary %i)',
    (vocab) => {
      const steps = probeSteps(vocab)
      const [first, second, ...rest] = steps
      const lengths = first!.items.map((item) => item.tokens.length)
      expect(new Set(lengths).size).toBe(lengths.length)
      expect(second!.items.some((item) => item.phase === 'prefill')).toBe(true)
      const longest = first!.items.reduce((a, b) => (a.tokens.length > b.tokens.length ? a : b))
      expect(second!.release).toEqual([longest.seqId])
      expect(rest.length).toBeGreaterThanOrEqual(2)
      // Every sequence is released by the end, and every decode step brings its own input.
      const released = steps.flatMap((step) => step.release).sort()
      const seen = [...new Set(steps.flatMap((step) => step.items.map((i) => i.seqId)))].sort()
      expect(released).toEqual(seen)
      const decodes = steps.flatMap((s) => s.items.filter((i) => i.phase === 'decode'))
      expect(decodes.every((item) => item.tokens.length === 1)).toBe(true)
      // Past the first, every id is distinct and within the vocabulary's ordinary words.
      const ids = steps.flatMap((s) =>
        s.items.flatMap((i) => (i.phase === 'prefill' ? i.tokens.slice(1) : i.tokens)),
      )
      expect(new Set(ids).size).toBe(ids.length)
      expect(Math.min(...ids)).toBeGreaterThanOrEqual(vocab * 0.3 - 1)
      expect(Math.max(...ids)).toBeLessThan(vocab * 0.9)
    },
  )
})
