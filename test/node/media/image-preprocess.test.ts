/**
 * @module test/media/image-preprocess
 * `pixel_values` against transformers.js 4.3.1's Gemma 3n processor (its SiglipImageProcessor on
 * RawImage) for JPEG (with EXIF rotation), PNG (RGBA, grey), WebP and GIF, plus config reading and bad
 * input.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { RawImage } from '@huggingface/transformers'
import type { Processor, Tensor as TjsTensor } from '@huggingface/transformers'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { imagePreprocessConfig, preprocessImage } from '../../../gpu-node/media/image-preprocess.ts'
import type { ImagePreprocessConfig } from '../../../gpu-node/media/image-preprocess.ts'
import { MediaInputError } from '../../../gpu-node/media/media-input-error.ts'
import { maxAbsDiff, referenceProcessor, smallModel, testImages } from './helpers.ts'

let cleanup: () => Promise<void>
let processor: Processor
let config: ImagePreprocessConfig
let images: Record<string, Uint8Array>

beforeAll(async () => {
  const model = await smallModel()
  cleanup = model.cleanup
  processor = await referenceProcessor(model.dir)
  config = imagePreprocessConfig(
    JSON.parse(await readFile(join(model.dir, 'preprocessor_config.json'), 'utf8')),
  )
  images = await testImages()
})

afterAll(async () => {
  await cleanup()
})

async function reference(bytes: Uint8Array): Promise<TjsTensor> {
  const image = await RawImage.fromBlob(new Blob([bytes]))
  const out = (await processor.image_processor!(image)) as { pixel_values: TjsTensor }
  return out.pixel_values
}

describe('preprocessImage', () => {
  it('reads the contract preprocessor config', () => {
    expect(config).toEqual({
      width: 768,
      height: 768,
      resample: 'bilinear',
      doResize: true,
      doRescale: true,
      rescaleFactor: 1 / 255,
      doNormalize: false,
      mean: [0.5, 0.5, 0.5],
      std: [0.5, 0.5, 0.5],
      doConvertRgb: true,
    })
  })

  it('the JPEG test image carries EXIF orientation 6', async () => {
    const meta = await sharp(images['JPEG 1200x900, EXIF orientation 6']!).metadata()
    expect(meta.orientation).toBe(6)
  })

  for (const name of [
    'JPEG 1200x900, EXIF orientation 6',
    'PNG 300x500 RGBA',
    'WebP 1000x750',
    'GIF 200x120',
    'PNG 257x129 grey',
    'PNG 768x768 (no resize)',
  ]) {
    it(`equals transformers.js on ${name}`, async () => {
      const bytes = images[name]!
      const ours = await preprocessImage(bytes, config)
      const ref = await reference(bytes)
      expect(ref.dims).toEqual([1, 3, 768, 768])
      expect([ours.height, ours.width, ours.data.length]).toEqual([768, 768, 3 * 768 * 768])
      const diff = maxAbsDiff(ours.data, ref.data as Float32Array)
      console.log(`pixel_values max abs diff, ${name}: ${diff}`)
      // Same libvips, same operations, same float32 arithmetic: bit-identical.
      expect(diff).toBe(0)
    })
  }

  it('applies EXIF rotation (a rotated image is not the unrotated one)', async () => {
    const rotated = images['JPEG 1200x900, EXIF orientation 6']!
    const plain = await sharp(rotated).withMetadata({ orientation: 1 }).toBuffer()
    const a = await preprocessImage(rotated, config)
    const b = await preprocessImage(plain, config)
    expect(maxAbsDiff(a.data, b.data)).toBeGreaterThan(0.1)
  })

  it('normalizes with mean and std when the config says so', async () => {
    const bytes = images['PNG 768x768 (no resize)']!
    const plain = await preprocessImage(bytes, config)
    const norm = await preprocessImage(bytes, { ...config, doNormalize: true })
    expect(norm.data[1234]).toBeCloseTo((plain.data[1234]! - 0.5) / 0.5, 6)
  })

  it('refuses non-images, other formats and images over the pixel cap', async () => {
    const garbage = new TextEncoder().encode('this is not an image at all')
    await expect(preprocessImage(garbage, config)).rejects.toThrow(MediaInputError)
    const truncated = images['WebP 1000x750']!.subarray(0, 40)
    await expect(preprocessImage(truncated, config)).rejects.toThrow(MediaInputError)
    await expect(preprocessImage(images['GIF 200x120']!, config, 100 * 100)).rejects.toThrow(
      /pixel limit/,
    )
    const svg = new TextEncoder().encode(
      '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8"/></svg>',
    )
    await expect(preprocessImage(svg, config)).rejects.toThrow(/svg is not accepted/)
  })

  it('refuses configs the vision encoder cannot use', () => {
    expect(() => imagePreprocessConfig({ size: { shortest_edge: 224 } })).toThrow(/"size"/)
    expect(() => imagePreprocessConfig({ size: { height: 8, width: 8 }, resample: 9 })).toThrow(
      /resample/,
    )
  })
})
