/**
 * @module
 * OpenAI `stop` strings over streamed text: the stop text is not part of the output, and a stop string may
 * arrive split over several tokens, so text that could still be the start of one is held back until the
 * next chunk decides it. Cost per push is O(chunk + held) × total stop length (at most 4 short strings).
 */

export interface StopResult {
  /** Text that is final: it can no longer be part of a stop string. */
  emit: string
  /** A stop string matched; `emit` ends right before it and later pushes emit nothing. */
  stopped: boolean
}

/**
 * @example
 * const stops = new StopMatcher(['\n\n', 'END'])
 * stops.push('Hello EN') // { emit: 'Hello ', stopped: false } ('EN' is held back)
 * stops.push('D more')   // { emit: '', stopped: true }
 */
export class StopMatcher {
  readonly #stops: string[]
  #held = ''
  #stopped = false

  /** Empty strings are ignored: they cannot mark where text ends (the edge validates `stop`). */
  constructor(stops: readonly string[]) {
    this.#stops = stops.filter((stop) => stop.length > 0)
  }

  /** True once a stop string has matched. */
  get stopped(): boolean {
    return this.#stopped
  }

  /** Adds streamed text; returns what can be sent now. */
  push(text: string): StopResult {
    if (this.#stopped) return { emit: '', stopped: true }
    const buffer = this.#held + text
    const at = this.#firstMatch(buffer)
    if (at >= 0) {
      this.#stopped = true
      this.#held = ''
      return { emit: buffer.slice(0, at), stopped: true }
    }
    const cut = buffer.length - this.#partialMatchLength(buffer)
    this.#held = buffer.slice(cut)
    return { emit: buffer.slice(0, cut), stopped: false }
  }

  /** Releases held-back text at the end of generation (it did not turn into a stop string). */
  flush(): string {
    const held = this.#held
    this.#held = ''
    return held
  }

  /** Index of the earliest complete stop string in `buffer`, or -1. */
  #firstMatch(buffer: string): number {
    let first = -1
    for (const stop of this.#stops) {
      const at = buffer.indexOf(stop)
      if (at >= 0 && (first < 0 || at < first)) first = at
    }
    return first
  }

  /** Length of the longest end of `buffer` that is a proper prefix of some stop string. */
  #partialMatchLength(buffer: string): number {
    let longest = 0
    for (const stop of this.#stops) {
      for (let length = Math.min(stop.length - 1, buffer.length); length > longest; length--) {
        if (buffer.endsWith(stop.slice(0, length))) {
          longest = length
          break
        }
      }
    }
    return longest
  }
}
