/**
 * @module
 * Reads a body stream into memory up to a byte cap, counting as it reads (a `content-length` can lie or be
 * absent), and cancels the stream as soon as the cap is passed so no more of it is downloaded.
 */

/**
 * @param tooLarge the error to throw once more than `maxBytes` have arrived
 * @example const bytes = await readCapped(request.body, 1 << 20, () => new PayloadTooLargeError(1 << 20))
 */
export async function readCapped(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
  tooLarge: () => Error,
): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0)
  const reader = body.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      total += value.byteLength
      if (total > maxBytes) throw tooLarge()
      chunks.push(value)
    }
  } catch (error) {
    await reader.cancel().catch(() => {})
    throw error
  }
  const bytes = new Uint8Array(total)
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.byteLength
  }
  return bytes
}
