/**
 * The step gate: the runner begins a step or the engine withdraws it, never both, also when the two race
 * on two threads.
 */
import { Worker } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
import { StepGate } from '../../../gpu-node/model/step-gate.ts'

/** The runner's side on a thread of its own: begins steps 1..n, a few microseconds apart. */
const RUNNER_SIDE = `
const { parentPort, workerData } = require('node:worker_threads')
import(workerData.module).then(({ StepGate }) => {
  const gate = new StepGate(workerData.buffer)
  const skipped = []
  for (let n = 1; n <= workerData.steps; n++) {
    if (!gate.begin(n)) skipped.push(n)
    const until = performance.now() + 0.005
    while (performance.now() < until);
  }
  parentPort.postMessage(skipped)
})
`

describe('StepGate', () => {
  it('withdraws only the step after the last one begun, and only before it begins', () => {
    const gate = new StepGate()
    expect(gate.withdraw(1)).toBe(true) // nothing begun yet: step 1 is next
    expect(gate.begin(1)).toBe(false)
    expect(gate.begin(2)).toBe(true)
    expect(gate.withdraw(2)).toBe(false) // too late: begun
    expect(gate.withdraw(4)).toBe(false) // too early: step 3 has not begun
    expect(gate.begin(3)).toBe(true)
    expect(gate.withdraw(4)).toBe(true)
    expect(gate.withdraw(4)).toBe(false) // once
    expect(gate.begin(4)).toBe(false)
    expect(gate.begin(5)).toBe(true)
  })

  it('refuses a step that begins out of order (the two sides count calls differently)', () => {
    const gate = new StepGate()
    expect(gate.begin(1)).toBe(true)
    expect(() => gate.begin(3)).toThrow(/step 3 began after step 1/)
  })

  it('never lets both sides have a step when they race on two threads', async () => {
    const gate = new StepGate()
    const steps = 20_000
    const module = new URL('../../../gpu-node/model/step-gate.ts', import.meta.url).href
    const worker = new Worker(RUNNER_SIDE, {
      eval: true,
      workerData: { buffer: gate.buffer, module, steps },
    })
    const skipped = new Promise<number[]>((resolve, reject) => {
      worker.once('message', resolve)
      worker.once('error', reject)
    })
    // The engine's side: reads the last step begun and withdraws the next, as fast as it can.
    const cell = new BigInt64Array(gate.buffer)
    const withdrawn: number[] = []
    let done = false
    void skipped.finally(() => (done = true))
    while (!done) {
      const last = Number(Atomics.load(cell, 0))
      if (last >= 0 && last < steps && gate.withdraw(last + 1)) withdrawn.push(last + 1)
      await new Promise((resolve) => setImmediate(resolve))
    }
    await worker.terminate()
    // Not a quiet run: the engine won some of the races (the runner's loop is short, so not all).
    expect(withdrawn.length).toBeGreaterThan(0)
    expect(await skipped).toEqual(withdrawn)
  })
})
