/**
 * @module
 * What counts as the first token for the usage record's `ttft_ms`: the first chunk whose delta carries
 * text. The role chunk's `"content":""` does not count. The relay and the aggregator both parse every
 * chunk anyway, so they ask this of the parsed chunk instead of scanning the bytes a second time.
 */

/** True when `chunk` (a parsed node chunk) carries generated text. */
function carriesText(chunk: unknown): boolean {
  const choices = (chunk as { choices?: unknown } | null)?.choices
  if (!Array.isArray(choices)) return false
  return choices.some((choice: { delta?: { content?: unknown } } | null) => {
    const content = choice?.delta?.content
    return typeof content === 'string' && content !== ''
  })
}

/**
 * A function to show every parsed chunk to: it calls `onFirstToken` once, at the first chunk with text.
 * @example const watch = watchFirstToken(() => (ttftMs = Date.now() - started)); … watch(chunk)
 */
export function watchFirstToken(onFirstToken?: () => void): (chunk: unknown) => void {
  let pending = onFirstToken ?? null
  return (chunk) => {
    if (!pending || !carriesText(chunk)) return
    const call = pending
    pending = null
    call()
  }
}
