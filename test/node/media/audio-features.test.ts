/**
 * @module test/media/audio-features
 * Log-mel `input_features` against transformers.js 4.3.1's Gemma3nAudioFeatureExtractor on a chirp + noise
 * clip read back from 16-bit and float WAV files; framing, truncation and padding edges; the WAV reader's
 * refusals.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Processor, Tensor as TjsTensor } from '@huggingface/transformers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LogMelExtractor, audioFeatureConfig } from '../../../gpu-node/media/audio-features.ts'
import { MediaInputError } from '../../../gpu-node/media/media-input-error.ts'
import { decodeWav } from '../../../gpu-node/media/wav-decode.ts'
import { chirp, maxAbsDiff, referenceProcessor, smallModel, wavFile } from './helpers.ts'

let cleanup: () => Promise<void>
let processor: Processor
let extractor: LogMelExtractor

beforeAll(async () => {
  const model = await smallModel()
  cleanup = model.cleanup
  processor = await referenceProcessor(model.dir)
  const json = JSON.parse(await readFile(join(model.dir, 'preprocessor_config.json'), 'utf8'))
  extractor = new LogMelExtractor(audioFeatureConfig(json))
})

afterAll(async () => {
  await cleanup()
})

async function reference(pcm: Float32Array): Promise<{ features: TjsTensor; mask: TjsTensor }> {
  const out = (await processor.feature_extractor!(pcm)) as {
    input_features: TjsTensor
    input_features_mask: TjsTensor
  }
  return { features: out.input_features, mask: out.input_features_mask }
}

async function compare(label: string, pcm: Float32Array): Promise<number> {
  const ours = extractor.extract(pcm)
  const ref = await reference(pcm)
  expect(ref.features.dims).toEqual([1, ours.frames, 128])
  expect(Array.from(ours.mask)).toEqual(Array.from(ref.mask.data as Uint8Array, Number))
  const diff = maxAbsDiff(ours.data, ref.features.data as Float32Array)
  console.log(`input_features max abs diff, ${label}: ${diff} (${ours.frames} frames)`)
  expect(diff).toBeLessThanOrEqual(1e-4)
  return diff
}

describe('LogMelExtractor', () => {
  it('reads the contract feature-extractor config', () => {
    expect(extractor.config).toMatchObject({
      sampleRate: 16_000,
      melBins: 128,
      frameLength: 512,
      hopLength: 160,
      fftLength: 1024,
      minFrequency: 125,
      maxFrequency: 7600,
      preemphasis: 0.97,
      melFloor: 1e-5,
    })
  })

  it('derives frame, hop and FFT sizes from the _ms fields when the lengths are absent', () => {
    const config = audioFeatureConfig({
      frame_length_ms: 32,
      hop_length_ms: 10,
      fft_overdrive: true,
    })
    expect([config.frameLength, config.hopLength, config.fftLength]).toEqual([512, 160, 1024])
  })

  it('equals transformers.js on a chirp + noise clip from a 16-bit WAV', async () => {
    const pcm = decodeWav(wavFile(chirp(3.7), 'pcm16'), 16_000)
    await compare('3.7 s chirp, 16-bit WAV', pcm)
  })

  it('equals transformers.js on the same clip from a float WAV', async () => {
    const pcm = decodeWav(wavFile(chirp(3.7), 'float32'), 16_000)
    expect(pcm).toEqual(chirp(3.7))
    await compare('3.7 s chirp, float WAV', pcm)
  })

  it('truncates past 30 s like the reference (2,997 frames)', async () => {
    const pcm = chirp(31.5)
    const started = performance.now()
    const { frames } = extractor.extract(pcm)
    console.log(`30 s clip: ${(performance.now() - started).toFixed(1)} ms`)
    expect(frames).toBe(2997)
    await compare('31.5 s chirp (truncated)', pcm)
  })

  it('floors silence at log(mel_floor), and one frame for 512 samples', async () => {
    const { data, frames } = extractor.extract(new Float32Array(512))
    expect(frames).toBe(1)
    expect(new Set(data)).toEqual(new Set([Math.fround(Math.log(1e-5))]))
    await compare('512 samples', chirp(512 / 16_000))
  })

  it('depends on the content', () => {
    const a = extractor.extract(chirp(1, 16_000, 1))
    const b = extractor.extract(chirp(1, 16_000, 2))
    expect(maxAbsDiff(a.data, b.data)).toBeGreaterThan(0.01)
  })

  it('refuses empty and sub-frame clips', () => {
    expect(() => extractor.extract(new Float32Array(0))).toThrow(MediaInputError)
    // Padded to a multiple of 128, 385 samples make the one 512-sample frame; 384 do not.
    expect(() => extractor.extract(new Float32Array(384))).toThrow(
      /24\.0 ms long \(384 samples at 16000 Hz\); at least 24\.1 ms \(385 samples\)/,
    )
    expect(extractor.extract(new Float32Array(385)).frames).toBe(1)
  })
})

describe('decodeWav', () => {
  it('reads 16-bit PCM as value / 32768', () => {
    const pcm = decodeWav(wavFile(Float32Array.from([0, 0.5, -1, 32767 / 32768]), 'pcm16'), 16_000)
    expect(Array.from(pcm)).toEqual([0, 0.5, -1, 32767 / 32768])
  })

  it('reads a data size left unset by a streaming writer', () => {
    const bytes = wavFile(Float32Array.from([0.25, -0.25]), 'pcm16')
    new DataView(bytes.buffer).setUint32(40, 0xffffffff, true)
    expect(Array.from(decodeWav(bytes, 16_000))).toEqual([0.25, -0.25])
  })

  it('refuses what the node does not take, naming it', () => {
    const clip = Float32Array.from([0.1, 0.2])
    const cases: [Uint8Array, RegExp][] = [
      [new TextEncoder().encode('ID3 this is an mp3'), /not a RIFF\/WAVE/],
      [wavFile(clip, 'pcm16', 44_100), /44100 Hz; the node takes 16000 Hz/],
      [wavFile(clip, 'pcm16', 16_000, 2), /2 channels/],
      [wavFile(new Float32Array(0), 'pcm16'), /no samples/],
      [wavFile(clip, 'pcm16').subarray(0, 30), /fmt chunk is truncated/],
      [wavFile(clip, 'pcm16').subarray(0, 36), /no data chunk/],
      [wavFile(Float32Array.from([Number.NaN]), 'float32'), /non-finite/],
    ]
    const eightBit = wavFile(clip, 'pcm16')
    new DataView(eightBit.buffer).setUint16(34, 8, true)
    cases.push([eightBit, /8-bit format 1/])
    for (const [bytes, message] of cases) {
      expect(() => decodeWav(bytes, 16_000)).toThrow(message)
      expect(() => decodeWav(bytes, 16_000)).toThrow(MediaInputError)
    }
  })
})
