/**
 * @module
 * Fetches an https image URL without becoming an SSRF proxy: every hop (redirects are followed by hand,
 * at most `maxRedirects`) passes `refuseImageUrl`; the whole fetch has one timeout; the body is read
 * against a byte cap, so a server that lies in (or omits) `content-length` is cut off; the response's
 * content type must be an image type.
 */
import { readCapped } from '../../streaming/read-capped.ts'
import { MediaInputError } from '../media-error.ts'
import { MEDIA_LIMITS } from '../media-limits.ts'
import { refuseImageUrl } from './address-policy.ts'

export interface FetchImageOptions {
  /** The fetch to use; tests pass one that serves fixtures. */
  fetch?: typeof fetch
  timeoutMs?: number
  maxBytes?: number
  maxRedirects?: number
}

export interface FetchedImage {
  /** `content-type` without parameters, lower-cased. */
  mediaType: string
  bytes: Uint8Array
}

const REDIRECTS = new Set([301, 302, 303, 307, 308])

/** Downloads the image at `url`; throws `MediaInputError` with a client-facing reason. */
export async function fetchImage(
  url: string,
  options: FetchImageOptions = {},
): Promise<FetchedImage> {
  const doFetch = options.fetch ?? fetch
  const maxBytes = options.maxBytes ?? MEDIA_LIMITS.maxImageBytes
  const signal = AbortSignal.timeout(options.timeoutMs ?? MEDIA_LIMITS.fetchTimeoutMs)
  let current = parseUrl(url)
  for (let hop = 0; ; hop++) {
    const refusal = refuseImageUrl(current)
    if (refusal) {
      // A file: or data-less URL has no origin to name ("null"): name its scheme instead.
      const where = current.origin === 'null' ? `a ${current.protocol} URL` : current.origin
      throw new MediaInputError(`cannot fetch ${where}: ${refusal}`, { kind: 'invalid_image_url' })
    }
    const response = await send(doFetch, current, signal)
    if (REDIRECTS.has(response.status)) {
      await response.body?.cancel()
      const location = response.headers.get('location')
      if (!location)
        throw new MediaInputError('the image URL redirected without a location', {
          kind: 'invalid_image_url',
        })
      if (hop >= (options.maxRedirects ?? MEDIA_LIMITS.maxRedirects)) {
        throw new MediaInputError('the image URL redirected too many times', {
          kind: 'invalid_image_url',
        })
      }
      current = parseUrl(location, current)
      continue
    }
    if (response.status !== 200) {
      await response.body?.cancel()
      throw new MediaInputError(`fetching the image URL returned HTTP ${response.status}`, {
        kind: 'invalid_image_url',
      })
    }
    const mediaType = (response.headers.get('content-type') ?? '')
      .split(';')[0]!
      .trim()
      .toLowerCase()
    if (!mediaType.startsWith('image/')) {
      await response.body?.cancel()
      throw new MediaInputError(
        `the image URL returned '${mediaType || 'no content type'}', not an image`,
        { kind: 'invalid_image_url' },
      )
    }
    return { mediaType, bytes: await readImageBody(response, maxBytes, signal) }
  }
}

function parseUrl(text: string, base?: URL): URL {
  try {
    return new URL(text, base)
  } catch {
    throw new MediaInputError('the image URL is not a valid URL', { kind: 'invalid_image_url' })
  }
}

async function send(doFetch: typeof fetch, url: URL, signal: AbortSignal): Promise<Response> {
  try {
    return await doFetch(url.href, { redirect: 'manual', signal, headers: { accept: 'image/*' } })
  } catch (error) {
    if (signal.aborted)
      throw new MediaInputError('fetching the image URL timed out', {
        kind: 'invalid_image_url',
        cause: error,
      })
    throw new MediaInputError('the image URL could not be fetched', {
      kind: 'invalid_image_url',
      cause: error,
    })
  }
}

async function readImageBody(
  response: Response,
  maxBytes: number,
  signal: AbortSignal,
): Promise<Uint8Array> {
  const declared = Number(response.headers.get('content-length') ?? NaN)
  if (declared > maxBytes) {
    await response.body?.cancel()
    throw new MediaInputError(`the image exceeds ${maxBytes} bytes`)
  }
  try {
    return await readCapped(
      response.body,
      maxBytes,
      () => new MediaInputError(`the image exceeds ${maxBytes} bytes`),
    )
  } catch (error) {
    if (error instanceof MediaInputError) throw error
    const reason = signal.aborted ? 'fetching the image URL timed out' : 'the image download failed'
    throw new MediaInputError(reason, { kind: 'invalid_image_url', cause: error })
  }
}
