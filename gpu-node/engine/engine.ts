/**
 * @module
 * The engine façade the HTTP layer talks to: `generate()` returns a stream of text deltas and a finish
 * event. Behind it one loop asks the scheduler for a plan, runs it on the model runner, and feeds sampled
 * tokens back to their sequences. The loop never waits for a client; a cancelled request is dropped at
 * the next step and its KV cache released at once.
 */
import type { SamplingParams } from '../text/sampler.ts'
import type { ModelRunner, ReleaseOutput, StepItem, StepOutput } from '../model/runner-types.ts'
import { NO_OBSERVER } from './observer.ts'
import type { EngineObserver } from './observer.ts'
import type { GenerationEvent } from './output-channel.ts'
import { Scheduler } from './scheduler.ts'
import type { PlannedItem, SchedulerOptions } from './scheduler.ts'
import { Sequence } from './sequence.ts'
import type { SequenceRequest, SequenceText } from './sequence.ts'

export type { EngineObserver, GenerationEvent, SamplingParams, SequenceRequest }

/** The queue is full: answer 503 and tell the client when to come back. */
export class EngineOverloadedError extends Error {
  override name = 'EngineOverloadedError'
  readonly retryAfterMs: number
  constructor(retryAfterMs: number, message = 'The GPU node is at capacity; retry shortly.') {
    super(message)
    this.retryAfterMs = retryAfterMs
  }
}

export interface EngineStats {
  running: number
  queued: number
  maxRunning: number
  /** Completion tokens generated since start. */
  generatedTokens: number
  /** KV cache entries held after the last step (padding included) and the budget. */
  kvTokens: number
  kvBudgetTokens: number
}

export class Engine {
  readonly #runner: ModelRunner
  readonly #text: SequenceText
  readonly #scheduler: Scheduler
  readonly #observer: EngineObserver
  readonly #aborted = new Set<Sequence>()
  #kvTokens = 0
  #nextId = 1
  #generatedTokens = 0
  #wake: (() => void) | null = null
  #loop: Promise<void> | null = null
  #closed = false
  #draining = false

  constructor(
    runner: ModelRunner,
    text: SequenceText,
    options: SchedulerOptions,
    observer: EngineObserver = NO_OBSERVER,
  ) {
    this.#runner = runner
    this.#text = text
    this.#scheduler = new Scheduler(options)
    this.#observer = observer
  }

  /**
   * Queues a request. Iterate the result for deltas; abort `signal` to cancel.
   * @throws EngineOverloadedError when the queue is full.
   * @example for await (const event of engine.generate(request, signal)) if (event.type === 'text') write(event.text)
   */
  generate(request: SequenceRequest, signal?: AbortSignal): AsyncIterable<GenerationEvent> {
    if (this.#closed || this.#draining) {
      this.#observer.rejected('shutting_down')
      throw new EngineOverloadedError(
        1_000,
        'The GPU node is shutting down; retry on another node.',
      )
    }
    const seq = new Sequence(this.#nextId++, request, this.#text)
    if (!this.#scheduler.enqueue(seq)) {
      this.#observer.rejected('queue_full')
      throw new EngineOverloadedError(this.#retryAfterMs())
    }
    signal?.addEventListener('abort', () => this.#abort(seq), { once: true })
    if (signal?.aborted) this.#abort(seq)
    this.#start()
    return seq.output
  }

  stats(): EngineStats {
    return {
      running: this.#scheduler.runningCount,
      queued: this.#scheduler.waitingCount,
      maxRunning: this.#scheduler.options.maxRunning,
      generatedTokens: this.#generatedTokens,
      kvTokens: this.#kvTokens,
      kvBudgetTokens: this.#scheduler.options.kvBudgetTokens,
    }
  }

  /** True once `drain()` has begun: new requests are refused. */
  get draining(): boolean {
    return this.#draining || this.#closed
  }

  /**
   * Graceful shutdown: refuses new requests at once, lets running and queued ones finish for up to
   * `deadlineMs`, then ends whatever is left (their streams get an error frame) and closes.
   * @returns whether everything finished before the deadline
   */
  async drain(deadlineMs: number): Promise<boolean> {
    this.#draining = true
    const deadline = performance.now() + deadlineMs
    while (!this.#scheduler.idle && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const finished = this.#scheduler.idle
    await this.close()
    return finished
  }

  /** Stops taking work, ends every stream (finish reason `abort`) and waits for the loop's last step. */
  async close(): Promise<void> {
    this.#closed = true
    for (const seq of this.#scheduler.all()) this.#abort(seq)
    this.#wake?.()
    await this.#loop
  }

  #abort(seq: Sequence): void {
    if (seq.finished) return
    seq.abort()
    this.#aborted.add(seq)
    this.#wake?.()
  }

  /** The loop starts with the first request and then sleeps whenever there is nothing to run. */
  #start(): void {
    this.#loop ??= this.#run()
    this.#wake?.()
  }

  /**
   * The loop. From a step's result to the next step's call nothing yields, so the next step reaches the
   * runner thread before the HTTP handlers woken by this step's tokens write their SSE frames: those writes
   * overlap the model's next step instead of delaying it. Nor does the loop wait for a release before the
   * next step: the runner runs calls in the order they are made (ModelRunner), so a finished sequence's
   * cache is freed before that step runs all the same.
   */
  async #run(): Promise<void> {
    let releases: Promise<ReleaseOutput>[] = []
    while (!this.#closed) {
      this.#release(this.#takeAborted(), releases)
      const plan = this.#scheduler.schedule()
      if (plan.length === 0) {
        if (releases.length > 0) {
          // A release that failed took nothing running with it: its sequences had already ended. Then
          // schedule again: a request may have come while this waited.
          await Promise.allSettled(releases)
          releases = []
          continue
        }
        await new Promise<void>((resolve) => (this.#wake = resolve))
        this.#wake = null
        continue
      }
      const items = this.#stepItems(plan)
      const started = performance.now()
      // The releases called before this step finish before it, so this waits for the step alone.
      const step = Promise.all([this.#runner.step(items), ...releases])
      releases = []
      let done: Sequence[]
      try {
        const [output, ...released] = await step
        done = this.#deliver(plan, items, output, released, started)
      } catch (error) {
        // A failed step (or release) poisons the caches of everything in it: fail those requests, keep
        // serving others.
        for (const { seq } of plan) seq.fail(error as Error)
        done = plan.map(({ seq }) => seq)
      }
      this.#release(done, releases)
    }
    this.#release(this.#takeAborted(), releases)
    await Promise.allSettled(releases)
  }

  #stepItems(plan: PlannedItem[]): StepItem[] {
    return plan.map(({ seq, tokens, sample }) => ({
      seqId: seq.id,
      phase: seq.prefillDone ? 'decode' : 'prefill',
      tokens,
      sampling: sample ? seq.request.sampling : null,
      seed: seq.request.seed,
      media: seq.takeMedia(),
    }))
  }

  /**
   * Hands a step's tokens to their sequences; returns the sequences that are now finished. `released`: the
   * releases the step waited for, whose runner time is part of the step's time.
   */
  #deliver(
    plan: PlannedItem[],
    items: StepItem[],
    output: StepOutput,
    released: ReleaseOutput[],
    started: number,
  ): Sequence[] {
    const now = performance.now()
    this.#kvTokens = output.kvTokens
    const sum = (key: 'runMs' | 'totalMs') => released.reduce((ms, r) => ms + r[key], output[key])
    this.#observer.step({
      items: items.length,
      decodes: items.filter((item) => item.phase === 'decode').length,
      engineMs: now - started,
      runnerMs: sum('totalMs'),
      runMs: sum('runMs'),
      kvTokens: output.kvTokens,
    })
    const done: Sequence[] = []
    output.results.forEach((result, i) => {
      const { seq, tokens } = plan[i]!
      if (!seq.prefillDone) seq.prefilled += tokens.length
      if (result.token !== null) this.#accept(seq, result.token, now)
      if (seq.finished) done.push(seq)
    })
    return done
  }

  #accept(seq: Sequence, token: number, now: number): void {
    if (seq.finished) return // cancelled while the step ran: the token is not delivered
    if (seq.lastTokenAt === null) this.#observer.firstToken(now - seq.arrivedAt)
    else this.#observer.interToken(now - seq.lastTokenAt)
    seq.lastTokenAt = now
    seq.accept(token)
    this.#generatedTokens++
  }

  #takeAborted(): Sequence[] {
    const aborted = [...this.#aborted]
    this.#aborted.clear()
    return aborted
  }

  /**
   * Drops the sequences from the schedule now, and adds the runner's freeing of their caches to `into`.
   * The runner's answer sets the KV use `stats()` reports; the next step's answer comes after it.
   */
  #release(seqs: Sequence[], into: Promise<ReleaseOutput>[]): void {
    if (seqs.length === 0) return
    for (const seq of seqs) {
      this.#scheduler.remove(seq)
      this.#aborted.delete(seq)
    }
    const released = this.#runner.release(seqs.map((seq) => seq.id))
    into.push(
      released.then((output) => {
        this.#kvTokens = output.kvTokens
        return output
      }),
    )
  }

  /** A rough wait: the time the running sequences need to free one slot, at least a second. */
  #retryAfterMs(): number {
    return Math.max(1_000, this.#scheduler.waitingCount * 250)
  }
}
