/**
 * @module
 * The engine façade the HTTP layer talks to: `generate()` returns a stream of text deltas and a finish
 * event. Behind it one loop asks the scheduler for a plan, runs it on the model runner, and feeds sampled
 * tokens back to their sequences. The loop keeps the next step queued behind the running one, so the
 * runner never waits for this thread between steps. A request that arrives, or one that is cancelled,
 * meanwhile has that step replanned, with it or without it, if the runner has not begun it. The loop never
 * waits for a client: a cancelled request leaves the schedule at once, and its KV cache is released right
 * after the running step (after the queued one too, when the runner has begun that one already).
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

export interface EngineOptions extends SchedulerOptions {
  /**
   * Steps sent to the runner and not yet answered. 2 (the default): the running one and the next, so the
   * runner never waits for this thread between steps (a request that arrives or is cancelled meanwhile
   * still changes the next one: see `#replanQueuedStep`). 1: each step is sent once the previous one has
   * answered. More would add a step of latency to every end of a sequence.
   */
  stepsAhead?: 1 | 2
}

/** A step sent to the runner whose answer the loop has not taken yet. */
interface Flight {
  plan: PlannedItem[]
  items: StepItem[]
  sentAt: number
  /** The releases sent right before the step: it waits for them. */
  releases: Promise<ReleaseOutput>[]
  /** The step's output, and those of `releases`. */
  answer: Promise<[StepOutput, ...ReleaseOutput[]]>
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
  /**
   * KV cache entries the running sequences may grow to (prompt plus `max_tokens` each; with a padded
   * batch, rows times the widest): what admission counts against the budget, so what keeps a queue waiting.
   */
  kvReservedTokens: number
}

export class Engine {
  readonly #runner: ModelRunner
  readonly #text: SequenceText
  readonly #scheduler: Scheduler
  readonly #observer: EngineObserver
  readonly #stepsAhead: number
  readonly #aborted = new Set<Sequence>()
  /** Steps sent and not yet answered, oldest first; the loop awaits the first. */
  readonly #flights: Flight[] = []
  /** Releases asked for since the last step was sent: the next step waits for them. */
  #releases: Promise<ReleaseOutput>[] = []
  #kvTokens = 0
  #nextId = 1
  #generatedTokens = 0
  /** When the last step's answer was taken: a step queued behind another starts then, not when sent. */
  #lastAnswerAt = 0
  #wake: (() => void) | null = null
  #loop: Promise<void> | null = null
  #closed = false
  #draining = false

  constructor(
    runner: ModelRunner,
    text: SequenceText,
    options: EngineOptions,
    observer: EngineObserver = NO_OBSERVER,
  ) {
    this.#runner = runner
    this.#text = text
    this.#scheduler = new Scheduler(options)
    this.#observer = observer
    this.#stepsAhead = options.stepsAhead ?? 2
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
    if (!seq.finished && this.#scheduler.canAdmit) this.#replanQueuedStep()
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
      kvReservedTokens: this.#scheduler.kvReservation(),
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
    if (!this.#closed && this.#flights[1]?.plan.some((item) => item.seq === seq)) {
      this.#replanQueuedStep()
    }
    this.#wake?.()
  }

  /** The loop starts with the first request and then sleeps whenever there is nothing to run. */
  #start(): void {
    this.#loop ??= this.#run()
    this.#wake?.()
  }

  /**
   * The loop. It sends a step as soon as it has fewer than `stepsAhead` unanswered, so the runner starts
   * the next step the moment it ends one instead of waiting for this thread to take the answer, plan and
   * send. From a step's answer to the next step's call nothing yields either, so the HTTP handlers woken by
   * the answer write their SSE frames while the runner computes. Releases are sent between steps and run
   * in that order (ModelRunner): a sequence that ended is freed before any step planned after its end.
   */
  async #run(): Promise<void> {
    const flights = this.#flights
    while (!this.#closed) {
      this.#release(this.#takeAborted())
      const plan = flights.length < this.#stepsAhead ? this.#scheduler.schedule() : []
      if (plan.length > 0) {
        flights.push(this.#send(plan))
        continue
      }
      const flight = flights[0]
      if (flight) {
        // Stays first while awaited: `#replanQueuedStep` may replace the one behind it meanwhile.
        const ended = await this.#land(flight)
        flights.shift()
        this.#release(ended)
        continue
      }
      if (this.#releases.length > 0) {
        // A release that failed took nothing running with it: its sequences had already ended. Then
        // schedule again: a request may have come while this waited.
        const releases = this.#releases
        this.#releases = []
        await Promise.allSettled(releases)
        continue
      }
      await new Promise<void>((resolve) => (this.#wake = resolve))
      this.#wake = null
    }
    // Closing: every sequence was aborted, so the answers still coming only need to be waited for.
    while (flights.length > 0) await this.#land(flights.shift()!)
    this.#release(this.#takeAborted())
    await Promise.allSettled(this.#releases)
  }

  /** Sends a step, after the releases asked for since the previous one (it waits for those too). */
  #send(plan: PlannedItem[]): Flight {
    const items = this.#stepItems(plan)
    const sentAt = performance.now()
    const releases = this.#releases
    this.#releases = []
    const answer = Promise.all([this.#runner.step(items), ...releases])
    return { plan, items, sentAt, releases, answer }
  }

  /**
   * The step queued behind the running one was planned before a request arrived (which would then join
   * only the step after it) or before one was cancelled (whose cache would then be freed only after it).
   * If the runner has not begun that step, take it back and send in its place the same step planned again:
   * with the newcomer's first prompt chunk, or without the cancelled sequence and after its release. The
   * runner still finds its next step waiting. Not for a step with media (their buffers went with it).
   */
  #replanQueuedStep(): void {
    const queued = this.#flights[1]
    if (!queued || queued.items.some((item) => item.media) || !this.#runner.withdrawLastStep())
      return
    this.#flights.pop()
    this.#observer.stepWithdrawn()
    // Its releases still run before the step sent in its place; its own answer says only "skipped".
    this.#releases = [...queued.releases, ...this.#releases]
    queued.answer.catch(() => undefined)
    this.#scheduler.unplan(queued.plan)
    this.#release(this.#takeAborted()) // as the loop does before it plans
    const plan = this.#scheduler.schedule()
    if (plan.length > 0) this.#flights.push(this.#send(plan))
  }

  /**
   * Takes a step's answer; returns the sequences that ended with it. A failed step (or release) poisons
   * the caches of everything in it: those requests fail, others keep being served.
   */
  async #land(flight: Flight): Promise<Sequence[]> {
    try {
      const [output, ...released] = await flight.answer
      return this.#deliver(flight, output, released)
    } catch (error) {
      const failed = flight.plan.map(({ seq }) => seq).filter((seq) => !seq.finished)
      for (const seq of failed) seq.fail(error as Error)
      return failed
    }
  }

  #stepItems(plan: PlannedItem[]): StepItem[] {
    return plan.map(({ seq, phase, tokens, sample }) => ({
      seqId: seq.id,
      phase,
      tokens,
      sampling: sample ? seq.request.sampling : null,
      seed: seq.request.seed,
      media: phase === 'prefill' ? seq.takeMedia() : undefined,
    }))
  }

  /**
   * Hands a step's tokens to their sequences; returns the sequences that ended with them. A sequence that
   * had already ended (it was in a step sent before its end was known) gets nothing. `released`: the
   * releases the step waited for, whose runner time is part of the step's time.
   */
  #deliver(flight: Flight, output: StepOutput, released: ReleaseOutput[]): Sequence[] {
    const now = performance.now()
    const { plan, items } = flight
    this.#kvTokens = output.kvTokens
    const sum = (key: 'runMs' | 'totalMs') => released.reduce((ms, r) => ms + r[key], output[key])
    this.#observer.step({
      items: items.length,
      decodes: items.filter((item) => item.phase === 'decode').length,
      // A step queued behind another started when that one's answer was taken, not when it was sent.
      engineMs: now - Math.max(flight.sentAt, this.#lastAnswerAt),
      runnerMs: sum('totalMs'),
      runMs: sum('runMs'),
      kvTokens: output.kvTokens,
    })
    this.#lastAnswerAt = now
    const ended: Sequence[] = []
    output.results.forEach((result, i) => {
      const { seq, sample } = plan[i]!
      if (seq.finished) return
      if (result.token !== null) this.#accept(seq, result.token, now)
      // The runner sampled nothing where it was asked to: the sequence could never end otherwise.
      else if (sample) seq.fail(new Error('internal: the model runner sampled no token'))
      if (seq.finished) ended.push(seq)
    })
    return ended
  }

  #accept(seq: Sequence, token: number, now: number): void {
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
   * Drops the sequences from the schedule now, and asks the runner to free their caches before the next
   * step. The runner's answer sets the KV use `stats()` reports; the next step's answer comes after it.
   */
  #release(seqs: Sequence[]): void {
    if (seqs.length === 0) return
    for (const seq of seqs) {
      this.#scheduler.remove(seq)
      this.#aborted.delete(seq)
    }
    const released = this.#runner.release(seqs.map((seq) => seq.id))
    this.#releases.push(
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
