/**
 * @module
 * The in-isolate image path: decode (JPEG at a reduced DCT scale, other formats in full), downscale with
 * an antialiasing filter, apply the EXIF orientation, re-encode as JPEG.
 */
import { MediaInputError } from '../media-error.ts'
import { MEDIA_LIMITS } from '../media-limits.ts'
import { decodeFull } from './decode-full.ts'
import type { ImageHeader } from './image-header.ts'
import { encodeJpeg } from './jpeg-encode.ts'
import { decodeJpegScaled } from './jpeg-scaled-decode.ts'
import { orientRgba, resizeRgba } from './resize.ts'
import type { Size } from './target-size.ts'

/**
 * Shapes `bytes` (already identified by `header`) to `target`, which is in displayed (oriented) pixels.
 * @example
 * await shapeImageWasm(bytes, header, { width: 768, height: 576 })
 */
export async function shapeImageWasm(
  bytes: Uint8Array,
  header: ImageHeader,
  target: Size,
): Promise<Uint8Array> {
  // Orientations 5–8 transpose: resize in stored orientation to the transposed target, then rotate.
  const stored = header.orientation >= 5 ? { width: target.height, height: target.width } : target
  let decoded
  if (header.format === 'jpeg') {
    decoded = decodeJpegScaled(bytes, Math.max(stored.width, stored.height))
  } else {
    // Full decodes hold width x height x 4 bytes: a tighter cap than the header check's.
    if (header.width * header.height > MEDIA_LIMITS.maxFullDecodePixels) {
      throw new MediaInputError(
        `${header.format.toUpperCase()} images are limited to ${MEDIA_LIMITS.maxFullDecodePixels} pixels`,
      )
    }
    decoded = await decodeFull(header.format, bytes)
  }
  const resized = resizeRgba(decoded, stored.width, stored.height)
  return encodeJpeg(orientRgba(resized, header.orientation))
}
