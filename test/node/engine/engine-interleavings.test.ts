/**
 * The engine under arrivals and cancels at random moments (seeded), so that requests land while a step
 * is queued (its replanning, engine.ts), while none is, and while releases are pending. Whatever the
 * interleaving: every request ends, its prompt is fed once and in order, it gets exactly its own tokens in
 * order with exact usage, its cache is released once, and no step holds it after its release.
 */
import { describe, expect, it } from 'vitest'
import { Engine } from '../../../gpu-node/engine/engine.ts'
import type { SequenceRequest } from '../../../gpu-node/engine/engine.ts'
import { NO_OBSERVER } from '../../../gpu-node/engine/observer.ts'
import { mulberry32 } from '../../../gpu-node/contract-model/prng.ts'
import { FakeRunner, callFor, drain, letters } from './fake-runner.ts'

/** Token `i` of sequence `seqId`: a letter, never EOS (0). */
const script = (seqId: number, i: number) => 1 + ((seqId * 7 + i) % 26)
const expectedText = (seqId: number, count: number) =>
  letters.decode(Array.from({ length: count }, (_, i) => script(seqId, i)))

const greedy = { temperature: 0, topP: 1, topK: 0, presencePenalty: 0, frequencyPenalty: 0 }

describe('Engine under random arrivals and cancels', () => {
  it.each([1, 2, 3])(
    'keeps every request whole and every cache freed once (seed %i; odd seeds: a padded batch)',
    async (seed) => {
      const random = mulberry32(seed)
      const runner = new FakeRunner(script)
      let withdrawn = 0
      const engine = new Engine(
        runner,
        letters,
        {
          maxRunning: 6,
          maxQueued: 200,
          prefillChunk: 3,
          maxStepTokens: 12,
          kvBudgetTokens: 1_000_000,
          paddedBatch: seed % 2 === 1,
        },
        { ...NO_OBSERVER, stepWithdrawn: () => withdrawn++ },
      )
      const runs: Promise<{
        id: number
        promptIds: number[]
        maxTokens: number
        cancelled: boolean
        result: unknown
      }>[] = []
      for (let n = 0; n < 120; n++) {
        await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 3)))
        const maxTokens = 1 + Math.floor(random() * 10)
        const promptLength = 1 + Math.floor(random() * 8)
        const request: SequenceRequest = {
          requestId: `r${n}`,
          tenant: `t${n % 3}`,
          promptIds: Array.from({ length: promptLength }, (_, i) => 100 * n + i),
          maxTokens,
          sampling: greedy,
          seed: n,
          stop: [],
          priority: 0,
        }
        const controller = new AbortController()
        const cancelled = random() < 0.25
        if (cancelled) setTimeout(() => controller.abort(), Math.floor(random() * 6))
        const id = n + 1 // the engine numbers sequences from 1, in arrival order
        runs.push(
          drain(engine.generate(request, controller.signal)).then((result) => ({
            id,
            promptIds: request.promptIds,
            maxTokens,
            cancelled,
            result,
          })),
        )
      }
      const results = await Promise.all(runs)
      await engine.close()

      for (const { id, promptIds, maxTokens, cancelled, result } of results) {
        const { text, finish } = result as Awaited<ReturnType<typeof drain>>
        const tokens = finish.usage.completionTokens
        // Its prompt fed once, in order, over the steps that ran (a step taken back fed nothing).
        const fed = runner.steps
          .flat()
          .filter((item) => item.seqId === id && item.phase === 'prefill')
          .flatMap((item) => item.tokens)
        if (finish.reason === 'abort') expect(fed).toEqual(promptIds.slice(0, fed.length))
        else expect(fed).toEqual(promptIds)
        // Its own tokens, in order, none lost or doubled, and usage that counts exactly those.
        expect(text).toBe(expectedText(id, tokens))
        if (finish.reason === 'abort') expect(cancelled).toBe(true)
        else expect([finish.reason, tokens]).toEqual(['length', maxTokens])
        // Released once, and in no step after that.
        const releases = runner.calls.flatMap((call, i) =>
          callFor('release', id)(call) ? [i] : [],
        )
        expect(releases).toHaveLength(1)
        expect(runner.calls.findLastIndex(callFor('step', id))).toBeLessThan(releases[0]!)
      }
      expect(engine.stats()).toMatchObject({ running: 0, queued: 0 })
      // Not a quiet run: requests took queued steps' places, and some were cancelled mid-stream.
      expect(withdrawn).toBeGreaterThan(0)
      expect(results.some((r) => r.cancelled && (r.result as { text: string }).text !== '')).toBe(
        true,
      )
    },
  )
})
