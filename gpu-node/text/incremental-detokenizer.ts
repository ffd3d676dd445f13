/**
 * @module
 * Streaming text from token ids that never splits a UTF-8 character and whose pieces add up to the full
 * decode. Uses the prefix/read-offset technique of TGI and vLLM (`decode_token` in
 * text-generation-inference's `server/text_generation_server/models/model.py`): each push decodes a short
 * window twice, `ids[prefix:read]` and `ids[prefix:]`, and releases the difference. Decoding with one token of
 * left context keeps spaces that a tokenizer strips at the start of a decode (SentencePiece `▁`), and holding
 * back while the text ends in U+FFFD waits for the rest of a character split over byte-fallback tokens
 * (`<0xE2><0x82><0xAC>` → '€'). Each push costs O(window), never O(generated length).
 */

/** Replacement character: what a decoder writes for an incomplete UTF-8 sequence. */
const REPLACEMENT = '\uFFFD'

/** A UTF-8 character is at most 4 byte tokens; past this many held tokens the U+FFFD is real, not partial. */
const DEFAULT_MAX_HELD_TOKENS = 16

export interface IncrementalDetokenizerOptions {
  /** Ids that never produce text (e.g. the EOS ids); dropped before decoding. */
  skipIds?: Iterable<number>
  /**
   * Most tokens held back waiting for a character to complete. Bounds the window when the model writes a
   * run of undecodable bytes; such text is then released as decoded (with U+FFFD).
   */
  maxHeldTokens?: number
}

/**
 * @example
 * const detok = new IncrementalDetokenizer((ids) => tok.decode(ids, { skipSpecialTokens: true }))
 * for (const id of generated) send(detok.push(id))
 * send(detok.flush())
 */
export class IncrementalDetokenizer {
  readonly #decode: (ids: number[]) => string
  readonly #skip: Set<number>
  readonly #maxHeld: number
  /** The current window: `ids[0:prefix]` is not kept; `ids[prefix:read]` is released context. */
  #ids: number[] = []
  #prefix = 0
  #read = 0

  constructor(decode: (ids: number[]) => string, opts: IncrementalDetokenizerOptions = {}) {
    this.#decode = decode
    this.#skip = new Set(opts.skipIds)
    this.#maxHeld = opts.maxHeldTokens ?? DEFAULT_MAX_HELD_TOKENS
    if (!(this.#maxHeld >= 1)) throw new RangeError('maxHeldTokens must be at least 1')
  }

  /** Adds one generated id; returns the text that became final (often '', never a partial character). */
  push(id: number): string {
    if (this.#skip.has(id)) return ''
    this.#ids.push(id)
    return this.#release(false)
  }

  /** Releases whatever is still held back (end of generation). */
  flush(): string {
    return this.#release(true)
  }

  #release(force: boolean): string {
    if (this.#read === this.#ids.length) return ''
    const released =
      this.#read > this.#prefix ? this.#decode(this.#ids.slice(this.#prefix, this.#read)) : ''
    const text = this.#decode(this.#ids.slice(this.#prefix))
    const incomplete = text.length <= released.length || text.endsWith(REPLACEMENT)
    if (incomplete && !force && this.#ids.length - this.#read < this.#maxHeld) return ''
    // The released tokens become the next window's left context; older ids are no longer needed.
    this.#ids = this.#ids.slice(this.#read)
    this.#prefix = 0
    this.#read = this.#ids.length
    return text.slice(released.length)
  }
}
