import { describe, expect, it } from 'vitest'
import { Engine, EngineOverloadedError } from '../../../gpu-node/engine/engine.ts'
import type { SequenceRequest } from '../../../gpu-node/engine/engine.ts'
import { NO_OBSERVER } from '../../../gpu-node/engine/observer.ts'
import type { StepReport } from '../../../gpu-node/engine/observer.ts'
import { FakeRunner, callFor, drain, letters } from './fake-runner.ts'

const options = {
  maxRunning: 4,
  maxQueued: 4,
  prefillChunk: 512,
  maxStepTokens: 2048,
  kvBudgetTokens: 1_000_000,
  paddedBatch: true,
}
const greedy = { temperature: 0, topP: 1, topK: 0, presencePenalty: 0, frequencyPenalty: 0 }

function request(overrides: Partial<SequenceRequest> = {}): SequenceRequest {
  return {
    requestId: 'r',
    tenant: 't',
    promptIds: [5, 6, 7],
    maxTokens: 10,
    sampling: greedy,
    seed: 1,
    stop: [],
    priority: 0,
    ...overrides,
  }
}

describe('Engine', () => {
  it('stops at max tokens with exact usage', async () => {
    const runner = new FakeRunner((_, i) => 1 + (i % 3))
    const engine = new Engine(runner, letters, options)
    const { text, finish } = await drain(engine.generate(request({ maxTokens: 5 })))
    expect(text).toBe('abcab')
    expect(finish).toMatchObject({
      reason: 'length',
      usage: { promptTokens: 3, completionTokens: 5 },
    })
    expect(runner.released).toEqual([1])
    await engine.close()
  })

  it('stops at EOS, counting the EOS token but not showing it', async () => {
    const runner = new FakeRunner((_, i) => [3, 4, 0, 5][i]!)
    const engine = new Engine(runner, letters, options)
    const { text, finish } = await drain(engine.generate(request()))
    expect(text).toBe('cd')
    expect(finish).toMatchObject({ reason: 'stop', usage: { completionTokens: 3 } })
    await engine.close()
  })

  it('stops at a stop string that spans tokens and leaves it out', async () => {
    const runner = new FakeRunner((_, i) => [8, 9, 5, 14, 4, 1][i]!) // h i e n d a
    const engine = new Engine(runner, letters, options)
    const { text, finish } = await drain(engine.generate(request({ stop: ['end'] })))
    expect(text).toBe('hi')
    expect(finish).toMatchObject({ reason: 'stop', usage: { completionTokens: 5 } })
    await engine.close()
  })

  it('feeds long prompts in chunks and samples only after the last one', async () => {
    const runner = new FakeRunner(() => 0)
    const engine = new Engine(runner, letters, { ...options, prefillChunk: 4 })
    await drain(engine.generate(request({ promptIds: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] })))
    const fed = runner.steps.map((items) => [
      items[0]!.phase,
      items[0]!.tokens.length,
      items[0]!.sampling !== null,
    ])
    // Then a decode step, sent before the first token (EOS here) was known.
    expect(fed).toEqual([
      ['prefill', 4, false],
      ['prefill', 4, false],
      ['prefill', 2, true],
      ['decode', 0, true],
    ])
    await engine.close()
  })

  it('keeps decoding running streams while a long prompt prefills', async () => {
    const runner = new FakeRunner(() => 1)
    const engine = new Engine(runner, letters, { ...options, prefillChunk: 2 })
    const first = drain(engine.generate(request({ maxTokens: 6, promptIds: [1] })))
    const second = drain(engine.generate(request({ maxTokens: 1, promptIds: [1, 2, 3, 4, 5, 6] })))
    await Promise.all([first, second])
    // Every step that prefills the second stream also carries the first one's decode.
    const prefillingSecond = runner.steps.filter((items) =>
      items.some((item) => item.seqId === 2 && item.phase === 'prefill'),
    )
    expect(prefillingSecond).toHaveLength(3)
    for (const items of prefillingSecond) {
      expect(items).toContainEqual(expect.objectContaining({ seqId: 1, phase: 'decode' }))
    }
    await engine.close()
  })

  it('calls the next step before the reader of the last step gets its text', async () => {
    const runner = new FakeRunner(() => 1)
    const engine = new Engine(runner, letters, options)
    for await (const event of engine.generate(request({ maxTokens: 3 }))) {
      runner.calls.push(event.type)
    }
    // The reader's work (an SSE write on a node) overlaps the model's next step instead of delaying it.
    // Two steps are called before the first answer. No fourth step: every token is asked for by then.
    expect(runner.calls).toEqual([
      'step 1',
      'step 1',
      'step 1',
      'text',
      'text',
      'release 1',
      'text',
      'finish',
    ])
    await engine.close()
  })

  it('keeps the next step queued behind the running one, and no more', async () => {
    const runner = new FakeRunner(() => 1)
    const open = runner.hold('step')
    const engine = new Engine(runner, letters, options)
    const done = drain(engine.generate(request({ maxTokens: 5 })))
    // The first step has not answered, and the second is already with the runner.
    await expect.poll(() => runner.steps.length).toBe(2)
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(runner.steps.length).toBe(2)
    expect(runner.steps.map((items) => items[0]!.phase)).toEqual(['prefill', 'decode'])
    open()
    await expect(done).resolves.toMatchObject({ text: 'aaaaa', finish: { reason: 'length' } })
    await engine.close()
  })

  it('sends each step after the previous one has answered when told to (stepsAhead 1)', async () => {
    const runner = new FakeRunner(() => 1)
    const open = runner.hold('step')
    const engine = new Engine(runner, letters, { ...options, stepsAhead: 1 })
    const done = drain(engine.generate(request({ maxTokens: 3 })))
    await expect.poll(() => runner.steps.length).toBe(1)
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(runner.steps.length).toBe(1)
    open()
    await expect(done).resolves.toMatchObject({ text: 'aaa', finish: { reason: 'length' } })
    // One step per token, nothing sent ahead, and so nothing thrown away.
    expect(runner.calls).toEqual(['step 1', 'step 1', 'step 1', 'release 1'])
    await engine.close()
  })

  it('gives a request the place of the step queued behind the running one', async () => {
    const runner = new FakeRunner((seqId, i) => seqId * 4 + i)
    const open = runner.hold('step')
    let withdrawn = 0
    const engine = new Engine(runner, letters, options, {
      ...NO_OBSERVER,
      stepWithdrawn: () => withdrawn++,
    })
    const first = drain(engine.generate(request({ maxTokens: 3 })))
    // Step 1 is running (held by the test); step 2 is queued behind it and not begun.
    await expect.poll(() => runner.steps.length).toBe(2)
    const second = drain(engine.generate(request({ promptIds: [9, 8], maxTokens: 2 })))
    // The queued step is taken back and sent again with the newcomer's prompt: it starts a step sooner.
    expect(runner.calls).toEqual(['step 1', 'step 1', 'withdraw', 'step 1,2'])
    expect(withdrawn).toBe(1)
    expect(runner.steps[1]).toMatchObject([
      { seqId: 1, phase: 'decode', tokens: [] },
      { seqId: 2, phase: 'prefill', tokens: [9, 8] },
    ])
    open()
    // Nothing lost or doubled by the step that never ran: each sequence gets its script in order.
    await expect(first).resolves.toMatchObject({
      text: 'def',
      finish: { reason: 'length', usage: { completionTokens: 3 } },
    })
    await expect(second).resolves.toMatchObject({
      text: 'hi',
      finish: { reason: 'length', usage: { completionTokens: 2 } },
    })
    await engine.close()
    expect(runner.released.sort()).toEqual([1, 2])
  })

  it('leaves the queued step in place when the newcomer must wait for a slot', async () => {
    const runner = new FakeRunner(() => 1)
    const open = runner.hold('step')
    const engine = new Engine(runner, letters, { ...options, maxRunning: 1 })
    const first = drain(engine.generate(request({ maxTokens: 3 })))
    await expect.poll(() => runner.steps.length).toBe(2)
    const second = drain(engine.generate(request({ maxTokens: 2 })))
    expect(runner.calls).toEqual(['step 1', 'step 1'])
    open()
    await expect(first).resolves.toMatchObject({ text: 'aaa' })
    await expect(second).resolves.toMatchObject({ text: 'aa' })
    expect(runner.calls).not.toContain('withdraw')
    await engine.close()
  })

  it('leaves a queued step that carries media in place (its buffers went to the runner)', async () => {
    const runner = new FakeRunner(() => 1)
    const open = runner.hold('step')
    const engine = new Engine(runner, letters, options)
    const media = { images: [], audio: [], imagePositions: [], audioPositions: [] }
    const done = [drain(engine.generate(request({ maxTokens: 3 })))]
    await expect.poll(() => runner.steps.length).toBe(2)
    done.push(drain(engine.generate(request({ maxTokens: 3, media }))))
    // The queued step now holds the media request's first chunk: the third request waits behind it.
    done.push(drain(engine.generate(request({ maxTokens: 3 }))))
    expect(runner.calls).toEqual(['step 1', 'step 1', 'withdraw', 'step 1,2'])
    expect(runner.steps[1]![1]!.media).toBe(media)
    open()
    for (const result of await Promise.all(done)) expect(result.text).toBe('aaa')
    await engine.close()
  })

  it('frees a finished sequence before any step planned after its end', async () => {
    const runner = new FakeRunner(() => 1)
    const engine = new Engine(runner, letters, options)
    await Promise.all([
      drain(engine.generate(request({ maxTokens: 2 }))),
      drain(engine.generate(request({ maxTokens: 4 }))),
    ])
    await engine.close()
    // Sequence 1 is in one step more than its 2 tokens need: the step sent while its last token was being
    // sampled, for sequence 2 (a padded batch decodes every row until it is released). Then it is
    // released, and no step after that holds it (the runner runs calls in order, so its cache is gone
    // before that step). Sequence 2 ends alone: a step for nothing but its thrown-away token is not sent.
    expect(runner.calls.filter(callFor('step', 1))).toHaveLength(3)
    expect(runner.calls.filter(callFor('step', 2))).toHaveLength(4)
    for (const id of [1, 2]) {
      const released = runner.calls.indexOf(`release ${id}`)
      expect(released).toBeGreaterThan(runner.calls.findLastIndex(callFor('step', id)))
    }
  })

  it('counts the runner time of the releases a step waited for in that step', async () => {
    const runner = new FakeRunner(() => 1)
    runner.stepCost = { totalMs: 10, runMs: 8 }
    runner.releaseCost = { totalMs: 3, runMs: 2 }
    const reports: StepReport[] = []
    const engine = new Engine(runner, letters, options, {
      ...NO_OBSERVER,
      step: (r) => reports.push(r),
    })
    await Promise.all([
      drain(engine.generate(request({ maxTokens: 2 }))),
      drain(engine.generate(request({ maxTokens: 4 }))),
    ])
    await engine.close() // the last step (sent ahead, its token thrown away) answers by then
    // A step reports its own cost plus that of the releases called since the step before it (sequence 1's,
    // here); the release after the last step is waited for by no step.
    const expected: number[][] = []
    let releases = 0
    for (const call of runner.calls) {
      if (call.startsWith('release')) releases++
      if (!call.startsWith('step')) continue
      expected.push([10 + 3 * releases, 8 + 2 * releases])
      releases = 0
    }
    expect(reports.map((r) => [r.runnerMs, r.runMs])).toEqual(expected)
    expect(expected).toContainEqual([13, 10])
  })

  it('drops a cancelled sequence at the next step and releases its cache', async () => {
    const runner = new FakeRunner(() => 1)
    const engine = new Engine(runner, letters, options)
    const controller = new AbortController()
    const events = engine.generate(request({ maxTokens: 1000 }), controller.signal)
    const iterator = events[Symbol.asyncIterator]()
    await iterator.next()
    // While it runs, its prompt and all the tokens it may still generate are held against the budget.
    const promptLength = request().promptIds.length
    expect(engine.stats().kvReservedTokens).toBe(promptLength + 1000)
    controller.abort()
    let last = await iterator.next()
    while (!last.done && last.value.type === 'text') last = await iterator.next()
    expect(last.value).toMatchObject({ type: 'finish', reason: 'abort' })
    await expect.poll(() => runner.released).toEqual([1])
    expect(engine.stats()).toMatchObject({ running: 0, queued: 0, kvReservedTokens: 0 })
    const stepsAfterAbort = runner.steps.length
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(runner.steps.length).toBe(stepsAfterAbort)
    await engine.close()
  })

  it('takes a cancelled sequence out of the queued step and frees its cache before it', async () => {
    const runner = new FakeRunner(() => 1)
    const open = runner.hold('step')
    const engine = new Engine(runner, letters, options)
    const controller = new AbortController()
    const cancelled = drain(engine.generate(request({ maxTokens: 50 }), controller.signal))
    const kept = drain(engine.generate(request({ maxTokens: 3 })))
    // Step 1 (the first prompt) is running, held by the test; step 2 (its decode) is queued, not begun.
    // The second request came before step 1 began: too early to take step 2's place, so it waits.
    await expect.poll(() => runner.steps.length).toBe(2)
    expect(runner.calls).toEqual(['step 1', 'step 1'])
    controller.abort()
    // Step 2 is sent again after the release of the cancelled sequence's cache, without it, and with the
    // waiting request's prompt instead.
    expect(runner.calls).toEqual(['step 1', 'step 1', 'withdraw', 'release 1', 'step 2'])
    open()
    await expect(cancelled).resolves.toMatchObject({ finish: { reason: 'abort' } })
    await expect(kept).resolves.toMatchObject({ text: 'aaa', finish: { reason: 'length' } })
    await engine.close()
    expect(runner.calls.slice(3).filter((call) => /^step (.*,)?1(,|$)/.test(call))).toEqual([])
  })

  it('refuses work beyond the queue with a retry hint', async () => {
    const runner = new FakeRunner(() => 1)
    const open = runner.hold('step')
    const engine = new Engine(runner, letters, { ...options, maxRunning: 1, maxQueued: 1 })
    const running = drain(engine.generate(request({ maxTokens: 2 })))
    await expect.poll(() => runner.steps.length).toBeGreaterThan(0)
    const queued = drain(engine.generate(request({ maxTokens: 2 })))
    let refused: unknown
    try {
      engine.generate(request())
    } catch (error) {
      refused = error
    }
    expect(refused).toBeInstanceOf(EngineOverloadedError)
    expect((refused as EngineOverloadedError).retryAfterMs).toBeGreaterThanOrEqual(1000)
    open()
    await Promise.all([running, queued])
    await engine.close()
  })

  it('fails the sequences of a failed step and keeps serving', async () => {
    const runner = new FakeRunner(() => 1)
    runner.failNextStep = true
    const engine = new Engine(runner, letters, options)
    await expect(drain(engine.generate(request()))).rejects.toThrow('device lost')
    expect(runner.released).toEqual([1])
    const { finish } = await drain(engine.generate(request({ maxTokens: 2 })))
    expect(finish).toMatchObject({ reason: 'length' })
    await engine.close()
  })

  it('fails a sequence the runner sampled no token for, rather than leave it waiting', async () => {
    const runner = new FakeRunner(() => 1)
    runner.withholdNextToken = true
    const engine = new Engine(runner, letters, options)
    await expect(drain(engine.generate(request()))).rejects.toThrow('sampled no token')
    await expect.poll(() => runner.released).toEqual([1])
    expect(engine.stats()).toMatchObject({ running: 0, queued: 0 })
    const { finish } = await drain(engine.generate(request({ maxTokens: 2 })))
    expect(finish).toMatchObject({ reason: 'length' })
    await engine.close()
  })

  it('serves a request that comes while the engine waits for a release before going idle', async () => {
    const runner = new FakeRunner(() => 1)
    const open = runner.hold('release')
    const engine = new Engine(runner, letters, options)
    await drain(engine.generate(request({ maxTokens: 2 })))
    await expect.poll(() => runner.calls.at(-1)).toBe('release 1')
    const next = drain(engine.generate(request({ maxTokens: 2 })))
    open()
    await expect(next).resolves.toMatchObject({ finish: { reason: 'length' } })
    await engine.close()
  })

  it('keeps serving after a failed release', async () => {
    const runner = new FakeRunner(() => 1)
    runner.failNextRelease = true
    const engine = new Engine(runner, letters, options)
    // Released while the engine goes idle: the failure must not end the loop.
    await drain(engine.generate(request({ maxTokens: 2 })))
    await expect.poll(() => runner.failNextRelease).toBe(false)
    // Released right before the next step: that step's sequences fail, later ones are served.
    runner.failNextRelease = true
    const first = drain(engine.generate(request({ maxTokens: 1 })))
    const second = drain(engine.generate(request({ maxTokens: 3 })))
    await expect(first).resolves.toMatchObject({ finish: { reason: 'length' } })
    await expect(second).rejects.toThrow('release failed')
    const { finish } = await drain(engine.generate(request({ maxTokens: 2 })))
    expect(finish).toMatchObject({ reason: 'length' })
    await engine.close()
  })

  it('drains: refuses new work, lets running streams finish, then closes', async () => {
    const runner = new FakeRunner(() => 1)
    const engine = new Engine(runner, letters, options)
    const running = drain(engine.generate(request({ maxTokens: 30 })))
    await expect.poll(() => runner.steps.length).toBeGreaterThan(0)
    const drained = engine.drain(10_000)
    expect(() => engine.generate(request())).toThrow(/shutting down/)
    expect(engine.draining).toBe(true)
    const { finish } = await running
    expect(finish).toMatchObject({ reason: 'length', usage: { completionTokens: 30 } })
    expect(await drained).toBe(true)
  })

  it('ends what is still running when the drain deadline passes', async () => {
    const runner = new FakeRunner(() => 1)
    const engine = new Engine(runner, letters, options)
    const endless = drain(engine.generate(request({ maxTokens: 1_000_000 })))
    await expect.poll(() => runner.steps.length).toBeGreaterThan(0)
    expect(await engine.drain(100)).toBe(false)
    expect((await endless).finish).toMatchObject({ reason: 'abort' })
    expect(runner.released).toEqual([1])
  })
})
