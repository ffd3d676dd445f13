/**
 * @module
 * Image shaping on both paths (WASM codecs in the isolate, and the local Images binding), in workerd:
 * formats, sizes per `detail`, EXIF orientation, and the pixels that come out.
 */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { readImageHeader } from '../../../worker/media/image/image-header.ts'
import { decodeJpegScaled } from '../../../worker/media/image/jpeg-scaled-decode.ts'
import { shapeImage } from '../../../worker/media/image/shape-image.ts'
import type { ImageShapingOptions } from '../../../worker/media/image/shape-image.ts'
import {
  dataUrl,
  halves,
  makeGif,
  makePng,
  transcode,
  withExifOrientation,
} from './support/fixtures.ts'

const PATHS: Array<[string, () => ImageShapingOptions]> = [
  ['wasm', () => ({})],
  ['images binding', () => ({ images: env.IMAGES })],
]

/** The RGB of the output pixel at fractional position (fx, fy). */
function colourAt(jpeg: Uint8Array, fx: number, fy: number): number[] {
  const image = decodeJpegScaled(jpeg, 1 << 30)
  const x = Math.floor(fx * image.width)
  const y = Math.floor(fy * image.height)
  const at = (y * image.width + x) * 4
  return [...image.pixels.subarray(at, at + 3)]
}

const isRed = (rgb: number[]) => rgb[0]! > 180 && rgb[2]! < 80
const isBlue = (rgb: number[]) => rgb[2]! > 180 && rgb[0]! < 80

describe.each(PATHS)('shapeImage (%s)', (_name, options) => {
  it('downscales a JPEG to 768 px on the long side, keeping the aspect ratio', async () => {
    const jpeg = await transcode(await makePng(1600, 1200, halves(1600)), 'image/jpeg')
    const shaped = await shapeImage({ url: dataUrl('image/jpeg', jpeg) }, options())
    expect(readImageHeader(shaped.bytes)).toMatchObject({ format: 'jpeg', width: 768, height: 576 })
    expect(shaped).toMatchObject({ mediaType: 'image/jpeg', bytesIn: jpeg.length })
    expect(isRed(colourAt(shaped.bytes, 0.1, 0.5))).toBe(true)
    expect(isBlue(colourAt(shaped.bytes, 0.9, 0.5))).toBe(true)
  })

  it('uses 512 px for detail low and 768 px for high', async () => {
    const jpeg = await transcode(await makePng(1200, 1600, halves(1200)), 'image/jpeg')
    const low = await shapeImage({ url: dataUrl('image/jpeg', jpeg), detail: 'low' }, options())
    const high = await shapeImage({ url: dataUrl('image/jpeg', jpeg), detail: 'high' }, options())
    expect(readImageHeader(low.bytes)).toMatchObject({ width: 384, height: 512 })
    expect(readImageHeader(high.bytes)).toMatchObject({ width: 576, height: 768 })
  })

  it('never enlarges a small image', async () => {
    const png = await makePng(300, 200, halves(300))
    const shaped = await shapeImage({ url: dataUrl('image/png', png) }, options())
    expect(readImageHeader(shaped.bytes)).toMatchObject({ format: 'jpeg', width: 300, height: 200 })
  })

  it('applies EXIF orientation 6 (rotate 90° clockwise): the left half ends on top', async () => {
    const jpeg = await transcode(await makePng(1600, 1200, halves(1600)), 'image/jpeg')
    const shaped = await shapeImage(
      { url: dataUrl('image/jpeg', withExifOrientation(jpeg, 6)) },
      options(),
    )
    expect(readImageHeader(shaped.bytes)).toMatchObject({ width: 576, height: 768, orientation: 1 })
    expect(isRed(colourAt(shaped.bytes, 0.5, 0.1))).toBe(true)
    expect(isBlue(colourAt(shaped.bytes, 0.5, 0.9))).toBe(true)
  })

  it('applies EXIF orientation 3 (rotate 180°): the left half ends on the right', async () => {
    const jpeg = await transcode(await makePng(800, 600, halves(800)), 'image/jpeg')
    const shaped = await shapeImage(
      { url: dataUrl('image/jpeg', withExifOrientation(jpeg, 3)) },
      options(),
    )
    expect(readImageHeader(shaped.bytes)).toMatchObject({ width: 768, height: 576 })
    expect(isBlue(colourAt(shaped.bytes, 0.1, 0.5))).toBe(true)
    expect(isRed(colourAt(shaped.bytes, 0.9, 0.5))).toBe(true)
  })

  it.each([
    ['PNG', 'image/png', (png: Uint8Array) => png],
    ['WebP', 'image/webp', (png: Uint8Array) => transcode(png, 'image/webp')],
  ])('turns a %s into a 768 px JPEG', async (_f, type, make) => {
    const bytes = await make(await makePng(1000, 800, halves(1000)))
    const shaped = await shapeImage({ url: dataUrl(type, bytes) }, options())
    expect(readImageHeader(shaped.bytes)).toMatchObject({ format: 'jpeg', width: 768, height: 614 })
    expect(isRed(colourAt(shaped.bytes, 0.1, 0.5))).toBe(true)
  })

  it('takes the first frame of a GIF', async () => {
    const gif = makeGif(1000, 500, halves(1000))
    const shaped = await shapeImage({ url: dataUrl('image/gif', gif) }, options())
    expect(readImageHeader(shaped.bytes)).toMatchObject({ format: 'jpeg', width: 768, height: 384 })
    expect(isRed(colourAt(shaped.bytes, 0.1, 0.5))).toBe(true)
    expect(isBlue(colourAt(shaped.bytes, 0.9, 0.5))).toBe(true)
  })
})
