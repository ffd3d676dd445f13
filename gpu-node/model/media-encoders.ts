/**
 * @module
 * The `vision_encoder` and `audio_encoder` sessions (gemma3n-contract.md §2): batched runs over the images
 * or clips of a request, float32 features out (fp16 outputs converted), and a content-hash LRU cache so a
 * multi-turn conversation does not re-encode the same image. Merging the features into `inputs_embeds` is
 * `mergeFeatures` in merge-features.ts.
 *
 * Audio clips are batched only with clips of the same frame count. Padding shorter clips with masked frames
 * would rely on how the export treats `input_features_mask`, which is unconfirmed (contract §2, §5);
 * equal-length batches give exactly the features each clip gets alone.
 */
import type { AudioFeatures } from '../media/audio-features.ts'
import { FeatureCache, contentKey } from '../media/feature-cache.ts'
import type { CacheStats } from '../media/feature-cache.ts'
import type { PixelValues } from '../media/image-preprocess.ts'
import type { FeatureBatch } from './merge-features.ts'
import { AUDIO_ENCODER, VISION_ENCODER, encoderSession } from './encoder-session.ts'
import type { EncoderSession, EncoderSpec, ItemFeatures } from './encoder-session.ts'
import type { SessionFile, SessionName } from './model-folder.ts'
import type { OrtRuntime } from './ort-runtime.ts'

export type { FeatureBatch } from './merge-features.ts'

/** Encoder outputs kept for reuse by default: ~128 Gemma 3n images. */
export const DEFAULT_CACHE_BYTES = 256 * 1024 * 1024

export interface MediaEncoderOptions {
  /** Bound of the feature cache in bytes (0: no caching). */
  cacheBytes?: number
}

function required(session: EncoderSession | null, name: string): EncoderSession {
  if (!session) throw new Error(`The model folder has no ${name}: this node cannot take that media`)
  return session
}

export class MediaEncoders {
  readonly #vision: EncoderSession | null
  readonly #audio: EncoderSession | null
  readonly #cache: FeatureCache<ItemFeatures>

  private constructor(
    vision: EncoderSession | null,
    audio: EncoderSession | null,
    cacheBytes: number,
  ) {
    this.#vision = vision
    this.#audio = audio
    this.#cache = new FeatureCache<ItemFeatures>(cacheBytes)
  }

  /**
   * Opens the encoder sessions present in the folder (a missing file leaves that modality off).
   * @example const encoders = await MediaEncoders.load(runtime, folder.files)
   */
  static async load(
    runtime: OrtRuntime,
    files: Partial<Record<SessionName, SessionFile | null>>,
    options: MediaEncoderOptions = {},
  ): Promise<MediaEncoders> {
    const open = async (file: SessionFile | null | undefined, spec: EncoderSpec) =>
      file ? encoderSession(runtime, await runtime.createSession(file), file, spec) : null
    const [vision, audio] = await Promise.all([
      open(files.vision_encoder, VISION_ENCODER),
      open(files.audio_encoder, AUDIO_ENCODER),
    ])
    return new MediaEncoders(vision, audio, options.cacheBytes ?? DEFAULT_CACHE_BYTES)
  }

  get hasVision(): boolean {
    return this.#vision !== null
  }

  get hasAudio(): boolean {
    return this.#audio !== null
  }

  get cacheStats(): CacheStats {
    return this.#cache.stats
  }

  /**
   * `image_features` for these images, in order: [images, rows, hidden] (Gemma 3n: 256 x 2048).
   * @example const features = await encoders.encodeImages([await preprocessImage(bytes, config)])
   */
  async encodeImages(images: readonly PixelValues[]): Promise<FeatureBatch> {
    const session = required(this.#vision, 'vision_encoder')
    const keys = images.map((img) => contentKey('image', [3, img.height, img.width], [img.data]))
    return this.#cached(keys, async (indices) => {
      const first = images[indices[0]!]!
      if (
        indices.some((i) => images[i]!.height !== first.height || images[i]!.width !== first.width)
      ) {
        throw new Error('Images of one batch must share one size (the preprocessor gives one)')
      }
      const plane = first.data.length
      const pixels = new Float32Array(indices.length * plane) // [N, 3, H, W]
      indices.forEach((i, n) => pixels.set(images[i]!.data, n * plane))
      return session.run({ pixel_values: [pixels, [indices.length, 3, first.height, first.width]] })
    })
  }

  /**
   * `audio_features` for these clips, in order: [clips, rows, hidden] (Gemma 3n: 188 x 1536 -> 2048).
   * @example const features = await encoders.encodeAudio([extractor.extract(pcm)])
   */
  async encodeAudio(clips: readonly AudioFeatures[]): Promise<FeatureBatch> {
    const session = required(this.#audio, 'audio_encoder')
    const keys = clips.map((c) => contentKey('audio', [c.frames, c.melBins], [c.data, c.mask]))
    return this.#cached(keys, async (indices) => {
      const groups = new Map<number, number[]>() // frames -> clip indices
      for (const i of indices) {
        const frames = clips[i]!.frames
        groups.set(frames, [...(groups.get(frames) ?? []), i])
      }
      const out = new Map<number, ItemFeatures>()
      for (const group of groups.values()) {
        const { frames, melBins } = clips[group[0]!]!
        const feats = new Float32Array(group.length * frames * melBins) // [B, F, 128]
        const mask = new Uint8Array(group.length * frames) // [B, F]
        group.forEach((i, b) => {
          feats.set(clips[i]!.data, b * frames * melBins)
          mask.set(clips[i]!.mask, b * frames)
        })
        const items = await session.run({
          input_features: [feats, [group.length, frames, melBins]],
          input_features_mask: [mask, [group.length, frames]],
        })
        group.forEach((i, b) => out.set(i, items[b]!))
      }
      return indices.map((i) => out.get(i)!)
    })
  }

  async release(): Promise<void> {
    await Promise.all([this.#vision?.session.release(), this.#audio?.session.release()])
  }

  /** Looks every key up, encodes the distinct misses in one call, stores them, assembles in order. */
  async #cached(
    keys: string[],
    encode: (indices: number[]) => Promise<ItemFeatures[]>,
  ): Promise<FeatureBatch> {
    if (keys.length === 0) throw new Error('Nothing to encode')
    const found = new Map<string, ItemFeatures>()
    const missing = new Map<string, number>() // key -> first index with it
    keys.forEach((key, i) => {
      if (found.has(key) || missing.has(key)) return
      const hit = this.#cache.get(key)
      if (hit) found.set(key, hit)
      else missing.set(key, i)
    })
    if (missing.size > 0) {
      const fresh = await encode([...missing.values()])
      ;[...missing.keys()].forEach((key, n) => {
        found.set(key, fresh[n]!)
        this.#cache.set(key, fresh[n]!)
      })
    }
    const shape = found.get(keys[0]!)!
    const size = shape.rows * shape.hidden
    const data = new Float32Array(keys.length * size) // [n, rows, hidden]
    keys.forEach((key, i) => {
      const item = found.get(key)!
      if (item.rows !== shape.rows || item.hidden !== shape.hidden) {
        throw new Error(
          `Encoder items differ in shape: [${item.rows}, ${item.hidden}] vs [${shape.rows}, ${shape.hidden}]`,
        )
      }
      data.set(item.data, i * size)
    })
    return { data, dims: [keys.length, shape.rows, shape.hidden] }
  }
}
