/**
 * @module
 * The Cloudflare Images path: the binding decodes, applies the EXIF orientation (Images auto-orients; so
 * does the local sharp-backed binding: `sharp(source, { autoOrient: true })`), downscales and re-encodes
 * outside the isolate, so none of the pixels count against the Worker's memory or CPU.
 * https://developers.cloudflare.com/images/transform-images/bindings/
 */
import { MediaInputError } from '../media-error.ts'
import { MEDIA_LIMITS } from '../media-limits.ts'
import type { Size } from './target-size.ts'

/** Shapes `bytes` to fit `target` (displayed pixels) with the Images binding. */
export async function shapeImageBinding(
  images: ImagesBinding,
  bytes: Uint8Array,
  target: Size,
): Promise<Uint8Array> {
  const body = new Response(bytes).body
  if (!body) throw new MediaInputError('the image is empty', { kind: 'invalid_image_format' })
  try {
    const result = await images
      .input(body)
      .transform({ width: target.width, height: target.height, fit: 'scale-down' })
      .output({ format: 'image/jpeg', quality: MEDIA_LIMITS.jpegQuality })
    return new Uint8Array(await result.response().arrayBuffer())
  } catch (error) {
    throw new MediaInputError('the image could not be decoded (corrupt or truncated)', {
      kind: 'invalid_image_format',
      cause: error,
    })
  }
}
