/**
 * @module
 * Strict base64 for media payloads: a truncated or corrupted string is refused instead of decoding to
 * garbage (atob alone accepts missing padding). Works in workerd and Node alike.
 */
import { MediaInputError } from './media-error.ts'

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/
/** Bytes per btoa call: a multiple of 3 so chunks concatenate without padding in the middle. */
const ENCODE_CHUNK = 3 * 16_384

/** TC39 `Uint8Array.fromBase64` (in current workerd, not yet in Node 22). */
type FromBase64 = (text: string, options: { lastChunkHandling: 'strict' }) => Uint8Array

/** Decodes standard base64 (whitespace ignored); throws `MediaInputError` when it is not valid. */
export function decodeBase64(text: string): Uint8Array {
  // Native decoding where the runtime has it: on a 12 MP photo's 3.7 MB of base64 it takes about 1 ms,
  // where the validating regex below alone takes about 30 ms. 'strict' refuses missing padding and
  // stray characters itself, so the regex is not needed on this path.
  const native = (Uint8Array as unknown as { fromBase64?: FromBase64 }).fromBase64
  if (native) {
    let bytes
    try {
      bytes = native(text, { lastChunkHandling: 'strict' })
    } catch (error) {
      throw new MediaInputError('the base64 data is truncated or not valid base64', {
        cause: error,
      })
    }
    if (bytes.length === 0) throw new MediaInputError('the base64 data is empty')
    return bytes
  }
  const compact = /\s/.test(text) ? text.replace(/\s+/g, '') : text
  if (compact.length === 0) throw new MediaInputError('the base64 data is empty')
  if (compact.length % 4 !== 0 || !BASE64.test(compact)) {
    throw new MediaInputError('the base64 data is truncated or not valid base64')
  }
  const binary = atob(compact)
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return bytes
}

/** Encodes bytes as standard base64 with padding. */
export function encodeBase64(bytes: Uint8Array): string {
  let out = ''
  for (let start = 0; start < bytes.length; start += ENCODE_CHUNK) {
    const chunk = bytes.subarray(start, start + ENCODE_CHUNK)
    let binary = ''
    for (let i = 0; i < chunk.length; i++) binary += String.fromCharCode(chunk[i] as number)
    out += btoa(binary)
  }
  return out
}

/** Decoded size of a base64 string, without decoding it (for size caps before the work). */
export function base64DecodedLength(text: string): number {
  const length = text.length
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0
  return Math.floor((length * 3) / 4) - padding
}
