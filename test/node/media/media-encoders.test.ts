/**
 * @module test/media/media-encoders
 * The encoder sessions of a small contract model through OrtRuntime: contract shapes, batched results
 * equal to one-at-a-time results, the content-hash LRU cache, I/O checks at load, and the merge.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LogMelExtractor } from '../../../gpu-node/media/audio-features.ts'
import type { AudioFeatures } from '../../../gpu-node/media/audio-features.ts'
import { preprocessImage } from '../../../gpu-node/media/image-preprocess.ts'
import type { PixelValues } from '../../../gpu-node/media/image-preprocess.ts'
import { readMediaConfig } from '../../../gpu-node/media/media-config.ts'
import { AUDIO_ENCODER, encoderSession } from '../../../gpu-node/model/encoder-session.ts'
import { MediaEncoders } from '../../../gpu-node/model/media-encoders.ts'
import { ModelError } from '../../../gpu-node/model/session-run.ts'
import { readModelFolder } from '../../../gpu-node/model/model-folder.ts'
import type { ModelFolder } from '../../../gpu-node/model/model-folder.ts'
import { openRuntime } from '../../../gpu-node/model/ort-runtime.ts'
import type { OrtRuntime } from '../../../gpu-node/model/ort-runtime.ts'
import { chirp, maxAbsDiff, smallModel, testImages } from './helpers.ts'

const HIDDEN = 32 // smallModel()'s hidden size
let cleanup: () => Promise<void>
let runtime: OrtRuntime
let folder: ModelFolder
let pixels: PixelValues[]
let clips: AudioFeatures[]
const opened: MediaEncoders[] = []

async function load(cacheBytes?: number): Promise<MediaEncoders> {
  const encoders = await MediaEncoders.load(runtime, folder.files, { cacheBytes })
  opened.push(encoders)
  return encoders
}

beforeAll(async () => {
  const model = await smallModel()
  cleanup = model.cleanup
  runtime = await openRuntime({ runtime: 'node', device: 'cpu' })
  folder = await readModelFolder(model.dir)
  const media = await readMediaConfig(model.dir)
  const images = await testImages()
  pixels = await Promise.all(
    ['WebP 1000x750', 'PNG 300x500 RGBA', 'GIF 200x120'].map((name) =>
      preprocessImage(images[name]!, media.image),
    ),
  )
  const extractor = new LogMelExtractor(media.audio)
  // Two lengths: clips 0 and 2 share a frame count, clip 1 does not.
  clips = [chirp(2, 16_000, 1), chirp(3, 16_000, 2), chirp(2, 16_000, 3)].map((pcm) =>
    extractor.extract(pcm),
  )
})

afterAll(async () => {
  await Promise.all(opened.map((e) => e.release()))
  await cleanup()
})

describe('MediaEncoders', () => {
  it('encodes a batch of images to [n, 256, hidden], each as it encodes alone', async () => {
    const encoders = await load(0)
    expect([encoders.hasVision, encoders.hasAudio]).toEqual([true, true])
    const batch = await encoders.encodeImages(pixels)
    expect(batch.dims).toEqual([3, 256, HIDDEN])
    const size = 256 * HIDDEN
    for (let i = 0; i < pixels.length; i++) {
      const alone = await encoders.encodeImages([pixels[i]!])
      const slice = batch.data.subarray(i * size, (i + 1) * size)
      expect(maxAbsDiff(alone.data, slice)).toBeLessThan(1e-6)
    }
    expect(
      maxAbsDiff(batch.data.subarray(0, size), batch.data.subarray(size, 2 * size)),
    ).toBeGreaterThan(0.01)
  })

  it('encodes clips of different lengths to [n, 188, hidden], each as it encodes alone', async () => {
    const encoders = await load(0)
    const batch = await encoders.encodeAudio(clips)
    expect(batch.dims).toEqual([3, 188, HIDDEN])
    const size = 188 * HIDDEN
    for (let i = 0; i < clips.length; i++) {
      const alone = await encoders.encodeAudio([clips[i]!])
      expect(maxAbsDiff(alone.data, batch.data.subarray(i * size, (i + 1) * size))).toBeLessThan(
        1e-6,
      )
    }
    expect(maxAbsDiff(batch.data.subarray(0, size), batch.data.subarray(2 * size))).toBeGreaterThan(
      0.001,
    )
  })

  it('serves repeated content from the cache, within and across calls', async () => {
    const encoders = await load()
    const first = await encoders.encodeImages([pixels[0]!, pixels[1]!, pixels[0]!])
    expect(encoders.cacheStats).toMatchObject({ hits: 0, misses: 2, entries: 2 })
    const size = 256 * HIDDEN
    expect(first.data.subarray(2 * size)).toEqual(first.data.subarray(0, size))
    const again = await encoders.encodeImages([pixels[1]!])
    expect(encoders.cacheStats).toMatchObject({ hits: 1, misses: 2 })
    expect(again.data).toEqual(first.data.subarray(size, 2 * size))
    await encoders.encodeAudio([clips[0]!])
    await encoders.encodeAudio([clips[0]!])
    expect(encoders.cacheStats).toMatchObject({ hits: 2, misses: 3, entries: 3 })
  })

  it('evicts the least recently used entry past its byte bound', async () => {
    const encoders = await load(2 * 256 * HIDDEN * 4) // room for two images' features
    await encoders.encodeImages([pixels[0]!])
    await encoders.encodeImages([pixels[1]!])
    await encoders.encodeImages([pixels[0]!]) // hit: image 1 is now the oldest
    await encoders.encodeImages([pixels[2]!]) // evicts image 1
    expect(encoders.cacheStats).toMatchObject({ hits: 1, misses: 3, entries: 2 })
    await encoders.encodeImages([pixels[0]!])
    await encoders.encodeImages([pixels[1]!])
    expect(encoders.cacheStats).toMatchObject({ hits: 2, misses: 4, bytes: 2 * 256 * HIDDEN * 4 })
  })

  it('refuses a session whose I/O is not the contract one, naming the file', async () => {
    const file = folder.files.vision_encoder!
    const session = await runtime.createSession(file)
    try {
      expect(() => encoderSession(runtime, session, file, AUDIO_ENCODER)).toThrow(ModelError)
      expect(() => encoderSession(runtime, session, file, AUDIO_ENCODER)).toThrow(
        /should take "input_features".*pixel_values: float32/,
      )
    } finally {
      await session.release()
    }
  })

  it('says so when the folder has no encoder for a modality', async () => {
    const encoders = await MediaEncoders.load(runtime, {
      vision_encoder: folder.files.vision_encoder,
    })
    opened.push(encoders)
    expect(encoders.hasAudio).toBe(false)
    await expect(encoders.encodeAudio(clips)).rejects.toThrow(/no audio_encoder/)
  })
})
