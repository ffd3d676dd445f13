/**
 * @module
 * What counts as the first token for the usage record's `ttft_ms`: the first chunk whose delta carries
 * text. The role chunk's `"content":""` does not count. The relay and the aggregator both parse every
 * chunk anyway, so they ask this of the parsed chunk instead of scanning the bytes a second time.
 */

/** True when `chunk` (a parsed node chunk) carries generated text. */
export function carriesText(chunk: unknown): boolean {
  const choices = (chunk as { choices?: unknown } | null)?.choices
  if (!Array.isArray(choices)) return false
  return choices.some((choice: { delta?: { content?: unknown } } | null) => {
    const content = choice?.delta?.content
    return typeof content === 'string' && content !== ''
  })
}
