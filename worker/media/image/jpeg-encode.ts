/**
 * @module
 * Re-encodes shaped pixels as a compact baseline JPEG with MozJPEG (@jsquash/jpeg). Baseline rather than
 * progressive: the node decodes it once, at once, and baseline encodes faster.
 */
import { init as initEncoder, default as encodeWasm } from '@jsquash/jpeg/encode.js'
import mozjpegWasm from '@jsquash/jpeg/codec/enc/mozjpeg_enc.wasm'
import { MEDIA_LIMITS } from '../media-limits.ts'
import type { DecodedImage } from './jpeg-scaled-decode.ts'

let ready: Promise<void> | null = null

/** JPEG bytes of an RGBA image at the shaping quality. */
export async function encodeJpeg(image: DecodedImage): Promise<Uint8Array> {
  ready ??= initEncoder(mozjpegWasm)
  await ready
  const data = new Uint8ClampedArray(
    image.pixels.buffer,
    image.pixels.byteOffset,
    image.pixels.byteLength,
  )
  // jsquash reads only data/width/height, so a plain object stands in for the DOM ImageData.
  const imageData = { data, width: image.width, height: image.height } as Parameters<
    typeof encodeWasm
  >[0]
  const encoded = await encodeWasm(imageData, {
    quality: MEDIA_LIMITS.jpegQuality,
    progressive: false,
    baseline: true,
    optimize_coding: true,
  })
  return new Uint8Array(encoded)
}
