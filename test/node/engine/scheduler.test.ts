import { describe, expect, it } from 'vitest'
import { Scheduler } from '../../../gpu-node/engine/scheduler.ts'
import { Sequence } from '../../../gpu-node/engine/sequence.ts'
import { letters } from './fake-runner.ts'

const greedy = { temperature: 0, topP: 1, topK: 0, presencePenalty: 0, frequencyPenalty: 0 }
const limits = {
  maxRunning: 4,
  maxQueued: 10,
  prefillChunk: 8,
  maxStepTokens: 64,
  kvBudgetTokens: 1_000_000,
  paddedBatch: true,
}
let nextId = 1
function seq(tenant: string, promptLength = 2, maxTokens = 4, priority = 0): Sequence {
  const promptIds = Array.from({ length: promptLength }, (_, i) => i + 1)
  return new Sequence(
    nextId++,
    { requestId: 'r', tenant, promptIds, maxTokens, sampling: greedy, seed: 1, stop: [], priority },
    letters,
  )
}

describe('Scheduler', () => {
  it('admits round-robin across tenants', () => {
    const scheduler = new Scheduler({ ...limits, maxRunning: 1 })
    const a = [seq('a'), seq('a'), seq('a')]
    const b = seq('b')
    for (const s of [...a, b]) scheduler.enqueue(s)
    const order: string[] = []
    for (let i = 0; i < 4; i++) {
      const [item] = scheduler.schedule()
      order.push(`${item!.seq.request.tenant}${item!.seq.id}`)
      scheduler.remove(item!.seq)
    }
    expect(order).toEqual([`a${a[0]!.id}`, `b${b.id}`, `a${a[1]!.id}`, `a${a[2]!.id}`])
  })

  it('caps each step at the token budget, decodes first', () => {
    const scheduler = new Scheduler({ ...limits, maxStepTokens: 10 })
    const decoding = seq('a')
    decoding.prefilled = 2
    decoding.generated.push(3)
    const prefilling = seq('b', 30)
    scheduler.enqueue(decoding)
    scheduler.enqueue(prefilling)
    const plan = scheduler.schedule()
    expect(plan.map((item) => [item.seq.id, item.phase, item.tokens.length, item.sample])).toEqual([
      [decoding.id, 'decode', 0, true],
      [prefilling.id, 'prefill', 8, false],
    ])
    // A decode feeds one token (the one the runner sampled last), a prefill its chunk.
    const fed = plan.reduce(
      (sum, item) => sum + (item.phase === 'decode' ? 1 : item.tokens.length),
      0,
    )
    expect(fed).toBeLessThanOrEqual(10)
  })

  it('refuses beyond maxQueued and forgets removed waiting sequences', () => {
    const scheduler = new Scheduler({ ...limits, maxRunning: 1, maxQueued: 2 })
    const [x, y, z] = [seq('a'), seq('a'), seq('b')]
    expect(scheduler.enqueue(x)).toBe(true)
    expect(scheduler.enqueue(y)).toBe(true)
    expect(scheduler.enqueue(z)).toBe(false)
    scheduler.remove(y)
    expect(scheduler.waitingCount).toBe(1)
    expect(scheduler.enqueue(z)).toBe(true)
  })

  it('decodes every running sequence even past the step budget, and prefills with what is left', () => {
    const scheduler = new Scheduler({ ...limits, maxStepTokens: 2 })
    const decoding = [seq('a'), seq('a'), seq('a')]
    for (const s of decoding) {
      s.prefilled = 2
      s.generated.push(1)
      scheduler.enqueue(s)
    }
    scheduler.enqueue(seq('b', 10))
    const plan = scheduler.schedule()
    expect(plan.map((item) => item.phase)).toEqual(['decode', 'decode', 'decode'])
  })

  it('plans each step as if the steps planned before it had run', () => {
    const scheduler = new Scheduler({ ...limits, prefillChunk: 4 })
    const s = seq('a', 6, 2)
    scheduler.enqueue(s)
    const other = seq('b', 1, 10)
    scheduler.enqueue(other)
    const plans = [1, 2, 3, 4].map(() =>
      scheduler.schedule().map((item) => [item.seq.id, item.phase, item.tokens, item.sample]),
    )
    expect(plans).toEqual([
      [
        [s.id, 'prefill', [1, 2, 3, 4], false],
        [other.id, 'prefill', [1], true],
      ],
      [
        [other.id, 'decode', [], true],
        [s.id, 'prefill', [5, 6], true],
      ],
      [
        [s.id, 'decode', [], true],
        [other.id, 'decode', [], true],
      ],
      // Both of s's tokens are asked for; the padded batch still decodes its row until it is released.
      [
        [s.id, 'decode', [], true],
        [other.id, 'decode', [], true],
      ],
    ])
    expect(s.samplesScheduled).toBe(3)
    // Once only such rows are left, no step is worth a run.
    scheduler.remove(other)
    expect(scheduler.schedule()).toEqual([])
    // Without a padded batch each row decodes on its own: a sequence with every token asked for is left out.
    const unpadded = new Scheduler({ ...limits, prefillChunk: 4, paddedBatch: false })
    unpadded.enqueue(seq('a', 6, 2))
    const phases = [1, 2, 3, 4].map(() => unpadded.schedule().map((item) => item.phase))
    expect(phases).toEqual([['prefill'], ['prefill'], ['decode'], []])
  })

  it('takes back the last step planned as if it had never been planned', () => {
    const scheduler = new Scheduler({ ...limits, prefillChunk: 4 })
    const s = seq('a', 6, 2)
    const other = seq('b', 1, 10)
    scheduler.enqueue(s)
    scheduler.enqueue(other)
    const shape = (plan: ReturnType<Scheduler['schedule']>) =>
      plan.map((item) => [item.seq.id, item.phase, item.tokens, item.sample])
    scheduler.schedule()
    const second = scheduler.schedule()
    expect([s.prefilled, s.samplesScheduled, other.samplesScheduled]).toEqual([6, 1, 2])
    scheduler.unplan(second)
    // s's last chunk counts as not fed again, and neither row's sample of that step as asked.
    expect([s.prefilled, s.samplesScheduled, other.samplesScheduled]).toEqual([4, 0, 1])
    expect(shape(scheduler.schedule())).toEqual(shape(second))
  })

  it('says whether a waiting sequence would be admitted now', () => {
    const scheduler = new Scheduler({ ...limits, maxRunning: 2, kvBudgetTokens: 250 })
    expect(scheduler.canAdmit).toBe(false)
    scheduler.enqueue(seq('a', 10, 90))
    expect(scheduler.canAdmit).toBe(true)
    scheduler.schedule()
    // One running (100 entries): a second of 200 would make a padded 2 x 200 > 250.
    scheduler.enqueue(seq('b', 10, 190))
    expect(scheduler.canAdmit).toBe(false)
    scheduler.enqueue(seq('b', 10, 20))
    expect(scheduler.canAdmit).toBe(false) // b's head blocks the round: large requests are not starved
    const full = new Scheduler({ ...limits, maxRunning: 1 })
    full.enqueue(seq('a'))
    full.schedule()
    full.enqueue(seq('a'))
    expect(full.canAdmit).toBe(false)
  })

  it('admits only what the KV budget holds to the last token, padded rows counted', () => {
    // Each sequence needs 10 + 90 = 100 entries; a padded batch of n rows needs n x 100.
    const padded = new Scheduler({ ...limits, kvBudgetTokens: 250 })
    for (let i = 0; i < 4; i++) padded.enqueue(seq('a', 10, 90))
    padded.schedule()
    expect([padded.runningCount, padded.waitingCount]).toEqual([2, 2])
    expect(padded.kvReservation()).toBe(200)

    // A long request in the batch widens every row: 2 x 200 > 250, so the short one waits.
    const widened = new Scheduler({ ...limits, kvBudgetTokens: 250 })
    widened.enqueue(seq('a', 10, 190))
    widened.enqueue(seq('b', 10, 20))
    widened.schedule()
    expect([widened.runningCount, widened.waitingCount]).toEqual([1, 1])

    // Without padding the sum counts: 200 + 30 fits.
    const unpadded = new Scheduler({ ...limits, kvBudgetTokens: 250, paddedBatch: false })
    unpadded.enqueue(seq('a', 10, 190))
    unpadded.enqueue(seq('b', 10, 20))
    unpadded.schedule()
    expect(unpadded.runningCount).toBe(2)
  })

  it('admits the highest priority first, round-robin among equals, arrival order within a tenant', () => {
    const scheduler = new Scheduler({ ...limits, maxRunning: 1 })
    const a1 = seq('a')
    const a2 = seq('a', 2, 4, 5)
    const b1 = seq('b')
    const c1 = seq('c', 2, 4, 5)
    for (const s of [a1, a2, b1, c1]) scheduler.enqueue(s)
    const order: number[] = []
    for (let i = 0; i < 4; i++) {
      const [item] = scheduler.schedule()
      order.push(item!.seq.id)
      scheduler.remove(item!.seq)
    }
    // After a2 and c1 (priority 5), b goes before a: a was served already this round.
    expect(order).toEqual([a2.id, c1.id, b1.id, a1.id])
  })
})
