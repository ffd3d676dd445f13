/**
 * @module
 * Full-size decoders for the formats without a scaled decode: PNG (@jsquash/png, Rust `png` crate),
 * WebP (@jsquash/webp, libwebp) and GIF's first frame (omggif). Each WASM module is imported as a
 * compiled module, because workerd forbids compiling WebAssembly from bytes at run time.
 */
import { init as initPng, decode as decodePngWasm } from '@jsquash/png/decode.js'
import pngWasm from '@jsquash/png/codec/pkg/squoosh_png_bg.wasm'
import { init as initWebp, default as decodeWebpWasm } from '@jsquash/webp/decode.js'
import webpWasm from '@jsquash/webp/codec/dec/webp_dec.wasm'
import { GifReader } from 'omggif'
import { MediaInputError } from '../media-error.ts'
import type { ImageFormat } from './image-header.ts'
import type { DecodedImage } from './jpeg-scaled-decode.ts'

let pngReady: Promise<unknown> | null = null
let webpReady: Promise<unknown> | null = null

/** Decodes a PNG, WebP or GIF (first frame) to RGBA. */
export async function decodeFull(
  format: Exclude<ImageFormat, 'jpeg'>,
  bytes: Uint8Array,
): Promise<DecodedImage> {
  try {
    if (format === 'gif') return decodeGif(bytes)
    const buffer = bytes.slice().buffer
    if (format === 'png') {
      pngReady ??= initPng(pngWasm)
      await pngReady
      return fromImageData(await decodePngWasm(buffer))
    }
    webpReady ??= initWebp(webpWasm)
    await webpReady
    return fromImageData(await decodeWebpWasm(buffer))
  } catch (error) {
    if (error instanceof MediaInputError) throw error
    throw new MediaInputError(`the ${format.toUpperCase()} data is corrupt or truncated`, {
      kind: 'invalid_image_format',
      cause: error,
    })
  }
}

function fromImageData(image: {
  data: Uint8ClampedArray
  width: number
  height: number
}): DecodedImage {
  const { data, width, height } = image
  return { pixels: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width, height }
}

function decodeGif(bytes: Uint8Array): DecodedImage {
  const reader = new GifReader(bytes)
  if (reader.numFrames() < 1)
    throw new MediaInputError('the GIF has no frames', { kind: 'invalid_image_format' })
  const pixels = new Uint8Array(reader.width * reader.height * 4)
  reader.decodeAndBlitFrameRGBA(0, pixels)
  return { pixels, width: reader.width, height: reader.height }
}
