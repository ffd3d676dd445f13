/**
 * @module
 * Shapes one `image_url` part: get the bytes (data: URL or a guarded https fetch), identify them from
 * their header, refuse lies and bombs, then downscale with the Images binding when bound, else WASM.
 * Every image is decoded and re-encoded, even one already small enough: that is what proves it is not
 * corrupt, strips its metadata (EXIF GPS included) and hands the node a single format, baseline JPEG.
 */
import { MediaInputError } from '../media-error.ts'
import { MEDIA_LIMITS } from '../media-limits.ts'
import { parseDataUrl } from './data-url.ts'
import { fetchImage } from './fetch-image.ts'
import type { ImageFormat } from './image-header.ts'
import { readImageHeader } from './image-header.ts'
import { shapeImageBinding } from './shape-image-binding.ts'
import { shapeImageWasm } from './shape-image-wasm.ts'
import type { ImageDetail } from './target-size.ts'
import { maxSideFor, orientedSize, targetSize } from './target-size.ts'

export interface ImageShapingOptions {
  /** Cloudflare Images; absent means the WASM path. */
  images?: ImagesBinding | undefined
  /** fetch for https image URLs (tests substitute one). */
  fetch?: typeof fetch
}

export interface ShapedImage {
  mediaType: 'image/jpeg'
  bytes: Uint8Array
  bytesIn: number
  width: number
  height: number
}

/** Media types each format may be declared as. */
const DECLARED_AS: Record<ImageFormat, readonly string[]> = {
  jpeg: ['image/jpeg', 'image/jpg', 'image/pjpeg'],
  png: ['image/png', 'image/apng'],
  gif: ['image/gif'],
  webp: ['image/webp'],
}

/**
 * @example
 * const shaped = await shapeImage({ url: 'data:image/png;base64,…', detail: 'auto' }, { images: env.IMAGES })
 */
export async function shapeImage(
  part: { url: string; detail?: ImageDetail | undefined },
  options: ImageShapingOptions = {},
): Promise<ShapedImage> {
  // URL schemes are case-insensitive (RFC 3986 §3.1): `DATA:image/png;base64,…` is a data: URL.
  const source = /^data:/i.test(part.url)
    ? parseDataUrl(part.url, MEDIA_LIMITS.maxImageBytes)
    : await fetchImage(part.url, { fetch: options.fetch })
  const { bytes, mediaType } = source
  const header = readImageHeader(bytes)
  if (
    mediaType &&
    mediaType !== 'application/octet-stream' &&
    !DECLARED_AS[header.format].includes(mediaType)
  ) {
    throw new MediaInputError(
      `declared as '${mediaType}' but the data is ${header.format.toUpperCase()}`,
      { kind: 'invalid_image_format' },
    )
  }
  if (header.width * header.height > MEDIA_LIMITS.maxImagePixels) {
    throw new MediaInputError(
      `the image is ${header.width}x${header.height}; at most ${MEDIA_LIMITS.maxImagePixels} pixels are accepted`,
    )
  }
  const shown = orientedSize(header.width, header.height, header.orientation)
  const target = targetSize(shown, maxSideFor(part.detail ?? 'auto'))
  const shaped = options.images
    ? await shapeImageBinding(options.images, bytes, target)
    : await shapeImageWasm(bytes, header, target)
  return { mediaType: 'image/jpeg', bytes: shaped, bytesIn: bytes.length, ...target }
}
