/**
 * @module
 * One request's generation state on the main thread: prompt, progress through prefill, generated tokens,
 * and the text pipeline (incremental detokenizer, then stop strings) that turns tokens into deltas.
 * It decides when the sequence is finished (EOS, stop string, max tokens) and counts usage exactly: every
 * sampled token is a completion token, including the EOS or the token that completed a stop string.
 */
import { IncrementalDetokenizer } from '../text/incremental-detokenizer.ts'
import type { MediaInput } from '../model/runner-types.ts'
import type { SamplingParams } from '../text/sampler.ts'
import { StopMatcher } from '../text/stop-matcher.ts'
import { OutputChannel } from './output-channel.ts'
import type { FinishReason, GenerationUsage } from './output-channel.ts'

export interface SequenceRequest {
  requestId: string
  tenant: string
  promptIds: number[]
  /** Completion tokens allowed (already clamped to the context). */
  maxTokens: number
  sampling: SamplingParams
  seed: number
  stop: string[]
  /** Higher goes first when waiting for a slot (set by the edge; 0 by default). */
  priority: number
  /** Preprocessed images and audio, handed to the runner with the first prefill chunk. */
  media?: MediaInput
}

/** Usage of `request` after `completionTokens` sampled tokens (prompt counts include media soft tokens). */
export function usageOf(request: SequenceRequest, completionTokens: number): GenerationUsage {
  const media = request.media
  return {
    promptTokens: request.promptIds.length,
    completionTokens,
    imageTokens: media?.imagePositions.length ?? 0,
    audioTokens: media?.audioPositions.length ?? 0,
  }
}

export interface SequenceText {
  decode(ids: number[]): string
  eosIds: readonly number[]
}

export class Sequence {
  readonly id: number
  readonly request: SequenceRequest
  readonly output = new OutputChannel()
  readonly arrivedAt = performance.now()
  /** Prompt tokens sent to the runner (in its KV cache once their step has run). */
  prefilled = 0
  /**
   * Tokens asked of the runner so far: delivered, in a step still running, or thrown away because the
   * sequence finished before its step's answer came.
   */
  samplesScheduled = 0
  readonly generated: number[] = []
  finishReason: FinishReason | null = null
  /** When the last token arrived (`performance.now()`), for inter-token latency. */
  lastTokenAt: number | null = null
  readonly #eos: ReadonlySet<number>
  readonly #detokenizer: IncrementalDetokenizer
  readonly #stops: StopMatcher
  #mediaSent = false

  constructor(id: number, request: SequenceRequest, text: SequenceText) {
    this.id = id
    this.request = request
    this.#eos = new Set(text.eosIds)
    this.#detokenizer = new IncrementalDetokenizer((ids) => text.decode(ids))
    this.#stops = new StopMatcher(request.stop)
  }

  get finished(): boolean {
    return this.finishReason !== null
  }

  get prefillDone(): boolean {
    return this.prefilled >= this.request.promptIds.length
  }

  /** Takes a sampled token: emits the text it completes and finishes the sequence when due. */
  accept(token: number): void {
    if (this.finished) return
    this.generated.push(token)
    if (this.#eos.has(token)) return this.#finish('stop')
    const { emit, stopped } = this.#stops.push(this.#detokenizer.push(token))
    this.output.pushText(emit, this.usage())
    if (stopped) return this.#finish('stop', false)
    if (this.generated.length >= this.request.maxTokens) this.#finish('length')
  }

  /** The client went away or the engine gave up: no more tokens, nothing more to say. */
  abort(): void {
    if (this.finished) return
    this.finishReason = 'abort'
    this.output.finish('abort', this.usage())
  }

  fail(error: Error): void {
    if (this.finished) return
    this.finishReason = 'abort'
    this.output.fail(error)
  }

  usage(): GenerationUsage {
    return usageOf(this.request, this.generated.length)
  }

  /** The media to send with the first prefill chunk; `undefined` after that. */
  takeMedia(): MediaInput | undefined {
    if (this.#mediaSent) return undefined
    this.#mediaSent = true
    return this.request.media
  }

  #finish(reason: FinishReason, flush = true): void {
    if (flush) {
      // Text the detokenizer held back (an unfinished UTF-8 sequence) still passes the stop strings.
      const tail = this.#stops.push(this.#detokenizer.flush())
      this.output.pushText(tail.emit + (tail.stopped ? '' : this.#stops.flush()), this.usage())
    }
    this.finishReason = reason
    this.output.finish(reason, this.usage())
  }
}
