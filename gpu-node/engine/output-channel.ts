/**
 * @module
 * A single-slot mailbox between the engine loop and one HTTP response. The loop never waits for a client:
 * it pushes text, and if the consumer is slower the pieces merge into one delta (vLLM's
 * RequestOutputCollector does the same). The consumer reads it as an async iterable.
 */

export type FinishReason = 'stop' | 'length' | 'abort'

export interface GenerationUsage {
  promptTokens: number
  completionTokens: number
  /** Of the prompt tokens: image and audio soft tokens. */
  imageTokens: number
  audioTokens: number
}

/** A text event carries the usage up to and including its last token (continuous usage on the wire). */
export type GenerationEvent =
  | { type: 'text'; text: string; usage: GenerationUsage }
  | { type: 'finish'; reason: FinishReason; usage: GenerationUsage }

export class OutputChannel implements AsyncIterable<GenerationEvent> {
  #text = ''
  #usage: GenerationUsage | null = null
  #finish: Extract<GenerationEvent, { type: 'finish' }> | null = null
  #error: Error | null = null
  #done = false
  #wake: (() => void) | null = null

  /** Adds text; `usage` counts every token so far, including ones whose text is still held back. */
  pushText(text: string, usage: GenerationUsage): void {
    if (this.#finish || this.#error) return
    this.#usage = usage
    if (!text) return
    this.#text += text
    this.#notify()
  }

  finish(reason: FinishReason, usage: GenerationUsage): void {
    if (this.#finish || this.#error) return
    this.#finish = { type: 'finish', reason, usage }
    this.#notify()
  }

  fail(error: Error): void {
    if (this.#finish || this.#error) return
    this.#error = error
    this.#notify()
  }

  async *[Symbol.asyncIterator](): AsyncIterator<GenerationEvent> {
    while (!this.#done) {
      if (this.#text && this.#usage) {
        const text = this.#text
        this.#text = ''
        yield { type: 'text', text, usage: this.#usage }
        continue
      }
      if (this.#error) {
        this.#done = true
        throw this.#error
      }
      if (this.#finish) {
        this.#done = true
        yield this.#finish
        return
      }
      await new Promise<void>((resolve) => (this.#wake = resolve))
    }
  }

  #notify(): void {
    const wake = this.#wake
    this.#wake = null
    wake?.()
  }
}
