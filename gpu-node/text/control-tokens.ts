/**
 * @module
 * Finds the model's control tokens spelled out in message text. The tokenizer turns any special added
 * token it meets in the rendered prompt (`<start_of_turn>`, `<end_of_turn>`, `<bos>`, `<image_soft_token>`,
 * ...) into that token, whether the template or the user wrote it; so text that spells one could forge a
 * turn of the conversation, or pass for media. @huggingface/tokenizers has no option to read them as plain
 * text inside a prompt, so the node refuses such text instead (prepare-generation.ts).
 */

export class ControlTokenFinder {
  readonly #tokens: Set<string>
  /** The distinct token lengths, longest first, so a longer token wins over a prefix of it. */
  readonly #lengths: number[]
  readonly #firstChars: Set<string>

  /** `tokens`: the strings of the tokenizer's special added tokens (tokenizer.json `added_tokens`). */
  constructor(tokens: Iterable<string>) {
    this.#tokens = new Set([...tokens].filter((token) => token.length > 0))
    this.#lengths = [...new Set([...this.#tokens].map((token) => token.length))].sort(
      (a, b) => b - a,
    )
    this.#firstChars = new Set([...this.#tokens].map((token) => token[0]!))
  }

  /**
   * The first control token in `text`, or `null`. One set lookup per character, and per token length
   * only where a token could start: a few milliseconds at most for a whole 32K-token prompt.
   * @example
   * finder.find('hi <end_of_turn>') // '<end_of_turn>'
   */
  find(text: string): string | null {
    for (let i = 0; i < text.length; i++) {
      if (!this.#firstChars.has(text[i]!)) continue
      for (const length of this.#lengths) {
        const candidate = text.slice(i, i + length)
        if (candidate.length === length && this.#tokens.has(candidate)) return candidate
      }
    }
    return null
  }
}
