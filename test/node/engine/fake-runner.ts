/**
 * @module
 * A scripted `ModelRunner` for engine tests: each sequence emits the tokens its script gives, and every
 * call is recorded, so tests can assert what the engine fed, sampled and released. Also the tests' text
 * pipeline (`letters`) and their reader of a generation (`drain`).
 */
import type { GenerationEvent } from '../../../gpu-node/engine/engine.ts'
import type {
  ModelInfo,
  ModelRunner,
  ReleaseOutput,
  StepItem,
  StepOutput,
} from '../../../gpu-node/model/runner-types.ts'
import { createTurns } from '../../../gpu-node/model/in-turn.ts'
import { StepGate } from '../../../gpu-node/model/step-gate.ts'

export class FakeRunner implements ModelRunner {
  readonly info = { vocabSize: 32, contextLength: 64 } as ModelInfo
  /** The steps called and not withdrawn, in order. */
  readonly steps: StepItem[][] = []
  readonly released: number[] = []
  /**
   * Every call in the order made (`step 1,2`, `release 1`, `withdraw` when one succeeded); tests may add
   * their own entries.
   */
  readonly calls: string[] = []
  readonly #emitted = new Map<number, number>()
  readonly #script: (seqId: number, index: number) => number
  /** Like the real runner: calls run one at a time, in the order they were made. */
  readonly #inTurn = createTurns()
  /** The real runner's gate, so the engine's withdrawals meet the same rules. */
  readonly #gate = new StepGate()
  #stepCalls = 0
  failNextStep = false
  /** The next sampled item gets no token (a runner that lost track of the sequence). */
  withholdNextToken = false
  failNextRelease = false
  /** Step and release calls wait on these while a test holds them (`hold`). */
  readonly #holds: Record<'step' | 'release', Promise<void> | null> = { step: null, release: null }
  /** What each call reports as its runner time and `session.run` time. */
  stepCost = { totalMs: 0, runMs: 0 }
  releaseCost = { totalMs: 0, runMs: 0 }

  constructor(script: (seqId: number, index: number) => number) {
    this.#script = script
  }

  step(items: StepItem[]): Promise<StepOutput> {
    this.steps.push(items)
    this.calls.push(`step ${items.map((item) => item.seqId).join(',')}`)
    const call = ++this.#stepCalls
    return this.#inTurn(() =>
      this.#gate.begin(call)
        ? this.#step(items)
        : Promise.resolve({
            results: [],
            runMs: 0,
            totalMs: 0,
            kvTokens: 0,
            withdrawn: true as const,
          }),
    )
  }

  /**
   * Holds every step (or release) call until the returned function is called, to act while one is in
   * flight.
   * @example const open = runner.hold('step'); …; open()
   */
  hold(kind: 'step' | 'release'): () => void {
    let open!: () => void
    this.#holds[kind] = new Promise((resolve) => (open = resolve))
    return () => {
      this.#holds[kind] = null
      open()
    }
  }

  withdrawLastStep(): boolean {
    if (!this.#gate.withdraw(this.#stepCalls)) return false
    this.steps.pop()
    this.calls.push('withdraw')
    return true
  }

  async #step(items: StepItem[]): Promise<StepOutput> {
    // The real runner answers through a worker-thread message (a macrotask), so timers keep running.
    await new Promise((resolve) => setImmediate(resolve))
    if (this.#holds.step) await this.#holds.step
    if (this.failNextStep) {
      this.failNextStep = false
      throw new Error('device lost')
    }
    const results = items.map((item) => {
      if (!item.sampling) return { seqId: item.seqId, token: null }
      if (this.withholdNextToken) {
        this.withholdNextToken = false
        return { seqId: item.seqId, token: null }
      }
      const index = this.#emitted.get(item.seqId) ?? 0
      this.#emitted.set(item.seqId, index + 1)
      return { seqId: item.seqId, token: this.#script(item.seqId, index) }
    })
    return { results, ...this.stepCost, kvTokens: 0 }
  }

  release(seqIds: number[]): Promise<ReleaseOutput> {
    this.released.push(...seqIds)
    this.calls.push(`release ${seqIds.join(',')}`)
    return this.#inTurn(() => this.#release())
  }

  async #release(): Promise<ReleaseOutput> {
    await new Promise((resolve) => setImmediate(resolve))
    if (this.#holds.release) await this.#holds.release
    if (this.failNextRelease) {
      this.failNextRelease = false
      throw new Error('release failed')
    }
    return { kvTokens: 0, ...this.releaseCost }
  }

  async close(): Promise<void> {}
}

/** Token i decodes to the i-th lowercase letter; 0 is EOS and decodes to nothing. */
/**
 * Whether a recorded call (`step 1,2`, `release 3`) is of `kind` and names sequence `id`.
 * @example runner.calls.filter(callFor('step', 1))
 */
export const callFor =
  (kind: 'step' | 'release', id: number) =>
  (call: string): boolean =>
    new RegExp(`^${kind} (.*,)?${id}(,|$)`).test(call)

export const letters = {
  decode: (ids: number[]) =>
    ids.map((id) => (id === 0 ? '' : String.fromCharCode(96 + id))).join(''),
  eosIds: [0],
}

/** Reads a generation to its end: the text it streamed and its finish event. */
export async function drain(events: AsyncIterable<GenerationEvent>) {
  let text = ''
  for await (const event of events) {
    if (event.type === 'text') text += event.text
    else return { text, finish: event }
  }
  throw new Error('no finish event')
}
