/**
 * @module test/media/helpers
 * Shared by the media tests: a small-vocabulary contract model folder, transformers.js 4.3.1's Gemma 3n
 * processor loaded from it (the reference), test images encoded with sharp, a chirp + noise clip, WAV
 * writing and max-abs-difference.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AutoProcessor, env } from '@huggingface/transformers'
import { mulberry32 } from '../../../gpu-node/contract-model/prng.ts'
import type { Processor } from '@huggingface/transformers'
import sharp from 'sharp'
import { generateContractModel } from '../../../gpu-node/contract-model/generate.ts'
import { resolveOptions } from '../../../gpu-node/contract-model/options.ts'

/** A fresh small-vocabulary contract model in a temporary folder; `cleanup` removes it. */
export async function smallModel(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'media-test-'))
  const dir = join(root, 'model')
  await generateContractModel(dir, resolveOptions({ vocab: 'small', hidden: 32, heads: 2 }))
  return { dir, cleanup: () => rm(root, { recursive: true, force: true }) }
}

/** transformers.js's processor for `dir` (local files only; use a fresh path per folder). */
export async function referenceProcessor(dir: string): Promise<Processor> {
  env.allowRemoteModels = false
  env.allowLocalModels = true
  return AutoProcessor.from_pretrained(dir, { local_files_only: true })
}

/** Deterministic uniform numbers in [0, 1): the generator's own PRNG. */
export const prng = mulberry32

/** Raw interleaved pixels: gradients, stripes and noise, so resampling errors show. */
export function pattern(width: number, height: number, channels: number, seed: number): Buffer {
  const rand = prng(seed)
  const data = Buffer.alloc(width * height * channels)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        const wave = 127 * Math.sin((x * (c + 1)) / 9 + y / (5 + c))
        const ramp = c === 3 ? (255 * x) / width : (128 * (x + y)) / (width + height)
        data[(y * width + x) * channels + c] = Math.max(
          0,
          Math.min(255, ramp + wave / 2 + rand() * 40),
        )
      }
    }
  }
  return data
}

/** The images of the conformance tests, by name. */
export async function testImages(): Promise<Record<string, Uint8Array>> {
  const raw = (w: number, h: number, channels: 1 | 3 | 4, seed: number) =>
    sharp(pattern(w, h, channels, seed), { raw: { width: w, height: h, channels } })
  return {
    // EXIF orientation 6 (rotate 90° clockwise): the decoder must apply it.
    'JPEG 1200x900, EXIF orientation 6': await raw(1200, 900, 3, 1)
      .jpeg({ quality: 90 })
      .withMetadata({ orientation: 6 })
      .toBuffer(),
    'PNG 300x500 RGBA': await raw(300, 500, 4, 2).png().toBuffer(),
    'WebP 1000x750': await raw(1000, 750, 3, 3).webp({ quality: 80 }).toBuffer(),
    'GIF 200x120': await raw(200, 120, 3, 4).gif().toBuffer(),
    'PNG 257x129 grey': await raw(257, 129, 1, 5).png().toBuffer(),
    'PNG 768x768 (no resize)': await raw(768, 768, 3, 6).png().toBuffer(),
  }
}

/** `seconds` of a 100 Hz -> 6 kHz linear chirp at amplitude 0.5 plus uniform noise, at `rate`. */
export function chirp(seconds: number, rate = 16_000, seed = 7): Float32Array {
  const rand = prng(seed)
  const n = Math.round(seconds * rate)
  const sweep = (6000 - 100) / (2 * seconds)
  return Float32Array.from({ length: n }, (_, i) => {
    const t = i / rate
    return 0.5 * Math.sin(2 * Math.PI * (100 * t + sweep * t * t)) + 0.1 * (rand() - 0.5)
  })
}

/** A mono WAV file: 16-bit PCM (`pcm16`) or 32-bit float (`float32`). */
export function wavFile(
  samples: Float32Array,
  encoding: 'pcm16' | 'float32',
  rate = 16_000,
  channels = 1,
): Uint8Array {
  const width = encoding === 'pcm16' ? 2 : 4
  const bytes = new Uint8Array(44 + samples.length * width)
  const view = new DataView(bytes.buffer)
  const text = (offset: number, s: string) => bytes.set(Buffer.from(s, 'ascii'), offset)
  text(0, 'RIFF')
  view.setUint32(4, 36 + samples.length * width, true)
  text(8, 'WAVE')
  text(12, 'fmt ')
  view.setUint32(16, 16, true)
  view.setUint16(20, encoding === 'pcm16' ? 1 : 3, true)
  view.setUint16(22, channels, true)
  view.setUint32(24, rate, true)
  view.setUint32(28, rate * width * channels, true)
  view.setUint16(32, width * channels, true)
  view.setUint16(34, width * 8, true)
  text(36, 'data')
  view.setUint32(40, samples.length * width, true)
  samples.forEach((v, i) => {
    if (encoding === 'pcm16') {
      view.setInt16(44 + i * 2, Math.max(-32768, Math.min(32767, Math.round(v * 32768))), true)
    } else view.setFloat32(44 + i * 4, v, true)
  })
  return bytes
}

/** Largest absolute difference between two equal-length arrays (lengths must match). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`)
  let max = 0
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!))
  return max
}
