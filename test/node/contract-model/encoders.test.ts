/**
 * @module test/contract-model/encoders
 * Vision and audio encoder stand-ins: contract I/O, fixed row counts, content dependence.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import ort from 'onnxruntime-node'
import { makeModel, maxDiff, tempRoot, tensorMeta } from './helpers.ts'

const PIXELS = 3 * 768 * 768
let cleanup: () => Promise<void>
let vision: ort.InferenceSession
let audio: ort.InferenceSession

beforeAll(async () => {
  const tmp = await tempRoot()
  cleanup = tmp.cleanup
  const dir = await makeModel(tmp.root, 'm', { vocab: 'small', hidden: 48, heads: 2, kvHeads: 2 })
  vision = await ort.InferenceSession.create(join(dir, 'onnx', 'vision_encoder.onnx'))
  audio = await ort.InferenceSession.create(join(dir, 'onnx', 'audio_encoder.onnx'))
})

afterAll(async () => {
  await cleanup()
})

describe('vision_encoder', () => {
  it('declares pixel_values -> image_features', () => {
    expect(vision.inputMetadata[0]).toMatchObject({
      name: 'pixel_values',
      type: 'float32',
      shape: ['num_images', 3, 768, 768],
    })
    expect(vision.outputMetadata[0]).toMatchObject({
      name: 'image_features',
      type: 'float32',
      shape: ['num_images', 256, 48],
    })
  })

  it('gives 256 rows per image that depend on the image', async () => {
    const data = new Float32Array(2 * PIXELS)
    data.fill(0.8, PIXELS) // image 0 black, image 1 light grey
    const out = await vision.run({
      pixel_values: new ort.Tensor('float32', data, [2, 3, 768, 768]),
    })
    const features = out.image_features as ort.Tensor
    expect(features.dims).toEqual([2, 256, 48])
    const f = features.data as Float32Array
    const half = 256 * 48
    expect(maxDiff(f.subarray(0, half), f.subarray(half))).toBeGreaterThan(0.1)
  })
})

describe('audio_encoder', () => {
  const frames = 40
  const clip = (fill: (i: number) => number): ort.Tensor =>
    new ort.Tensor(
      'float32',
      Float32Array.from({ length: frames * 128 }, (_, i) => fill(i)),
      [1, frames, 128],
    )
  const mask = (valid: number): ort.Tensor =>
    new ort.Tensor(
      'bool',
      Uint8Array.from({ length: frames }, (_, i) => (i < valid ? 1 : 0)),
      [1, frames],
    )

  async function encode(features: ort.Tensor, valid = frames): Promise<Float32Array> {
    const out = await audio.run({ input_features: features, input_features_mask: mask(valid) })
    const t = out.audio_features as ort.Tensor
    expect(t.dims).toEqual([1, 188, 48])
    return t.data as Float32Array
  }

  it('declares input_features + input_features_mask -> audio_features', () => {
    expect(tensorMeta(audio.inputMetadata).map((m) => [m.name, m.type, m.shape])).toEqual([
      ['input_features', 'float32', ['batch_size', 'num_frames', 128]],
      ['input_features_mask', 'bool', ['batch_size', 'num_frames']],
    ])
    expect(audio.outputMetadata[0]).toMatchObject({
      name: 'audio_features',
      shape: ['batch_size', 188, 48],
    })
  })

  it('depends on the valid frames only', async () => {
    const silent = await encode(clip(() => -11.5))
    const tone = await encode(clip((i) => Math.sin(i / 7) * 3))
    expect(maxDiff(silent, tone)).toBeGreaterThan(0.01)
    // Frames 20.. are masked out: changing them changes nothing.
    const a = await encode(
      clip((i) => (i < 20 * 128 ? 1 : 5)),
      20,
    )
    const b = await encode(
      clip((i) => (i < 20 * 128 ? 1 : -5)),
      20,
    )
    expect(maxDiff(a, b)).toBe(0)
  })
})
