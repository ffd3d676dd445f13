/**
 * @module
 * Time to first token for the usage record: passes the node's SSE bytes through untouched and calls
 * `onFirst` when the first non-empty `content` delta goes by (the role chunk's `"content":""` does not
 * count). A marker split across two network reads is seen one read later, which errs by one read.
 */

const NON_EMPTY_CONTENT = /"content":"[^"]/

/**
 * @example const body = tapFirstToken(nodeBody, () => (ttftMs = Date.now() - started))
 */
export function tapFirstToken(
  source: ReadableStream<Uint8Array>,
  onFirst: () => void,
): ReadableStream<Uint8Array> {
  const decoder = new TextDecoder()
  let seen = false
  return source.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        if (!seen && NON_EMPTY_CONTENT.test(decoder.decode(chunk, { stream: true }))) {
          seen = true
          onFirst()
        }
        controller.enqueue(chunk)
      },
    }),
  )
}
