/**
 * @module
 * `data:` URLs of image parts (RFC 2397). Only base64 payloads are accepted: percent-encoded binary is
 * legal but no client sends images that way, and refusing it keeps one strict decoding path.
 */
import { decodeBase64 } from '../base64.ts'
import { MediaInputError } from '../media-error.ts'

export interface DataUrl {
  /** Declared media type, lower-cased, without parameters; '' when absent. */
  mediaType: string
  bytes: Uint8Array
}

/** Parses a data: URL; throws `MediaInputError` for malformed, non-base64 or oversized payloads. */
export function parseDataUrl(url: string, maxBytes: number): DataUrl {
  const comma = url.indexOf(',')
  // Lower-case the scheme only: the whole URL can be megabytes of base64.
  if (url.slice(0, 5).toLowerCase() !== 'data:' || comma < 0) {
    throw new MediaInputError('the data: URL is malformed', { kind: 'invalid_image_url' })
  }
  const meta = url
    .slice(5, comma)
    .split(';')
    .map((s) => s.trim().toLowerCase())
  if (!meta.includes('base64'))
    throw new MediaInputError('data: URLs must be base64 encoded', { kind: 'invalid_image_url' })
  const payload = url.slice(comma + 1)
  // 4 base64 characters carry 3 bytes: refuse oversized payloads before decoding them.
  if (Math.floor(payload.length / 4) * 3 > maxBytes + 3) {
    throw new MediaInputError(`the image exceeds ${maxBytes} bytes`)
  }
  return { mediaType: meta[0] ?? '', bytes: decodeBase64(payload) }
}
