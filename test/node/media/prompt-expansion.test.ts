/**
 * @module test/media/prompt-expansion
 * The Gemma 3n processor end to end on a small-vocabulary contract model: for a prompt with 2 images and
 * 1 clip, our expanded ids equal transformers.js's `input_ids`, and our `pixel_values` and
 * `input_features` equal its batched outputs.
 */
import type { Processor, Tensor as TjsTensor } from '@huggingface/transformers'
import { RawImage } from '@huggingface/transformers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LogMelExtractor } from '../../../gpu-node/media/audio-features.ts'
import { preprocessImage } from '../../../gpu-node/media/image-preprocess.ts'
import { readMediaConfig } from '../../../gpu-node/media/media-config.ts'
import type { MediaConfig } from '../../../gpu-node/media/media-config.ts'
import { expandMediaPrompt, mediaPromptConfig } from '../../../gpu-node/media/prompt-expansion.ts'
import { ensureContractModel } from '../../../gpu-node/contract-model/cache.ts'
import { ChatTokenizer } from '../../../gpu-node/text/chat-tokenizer.ts'
import type { ChatMessage } from '../../../gpu-node/text/chat-tokenizer.ts'
import { chirp, maxAbsDiff, referenceProcessor, smallModel, testImages } from './helpers.ts'

let cleanup: () => Promise<void>
let processor: Processor
let tokenizer: ChatTokenizer
let media: MediaConfig
let images: Uint8Array[]

const MESSAGES: ChatMessage[] = [
  { role: 'system', content: 'You compare pictures and sounds.' },
  {
    role: 'user',
    content: [
      { type: 'text', text: 'First picture:\n\n' },
      { type: 'image' },
      { type: 'text', text: 'second one' },
      { type: 'image' },
      { type: 'audio' },
      { type: 'text', text: '\nWhich one matches the sound?' },
    ],
  },
]

beforeAll(async () => {
  const model = await smallModel()
  cleanup = model.cleanup
  processor = await referenceProcessor(model.dir)
  tokenizer = await ChatTokenizer.load(model.dir)
  media = await readMediaConfig(model.dir)
  const all = await testImages()
  images = [all['WebP 1000x750']!, all['JPEG 1200x900, EXIF orientation 6']!]
})

afterAll(async () => {
  await cleanup()
})

describe('expandMediaPrompt', () => {
  it('reads soft-token counts from processor_config.json', () => {
    expect(media.prompt).toEqual({ imageSeqLength: 256, audioSeqLength: 188 })
    expect(() => mediaPromptConfig({ image_seq_length: 0 })).toThrow(/image_seq_length/)
  })

  it('equals the transformers.js Gemma 3n processor for 2 images + 1 audio clip', async () => {
    const pcm = chirp(2.5)
    const text = processor.apply_chat_template(MESSAGES, { add_generation_prompt: true })
    expect(text).toBe(tokenizer.renderChat(MESSAGES, { addGenerationPrompt: true }))
    const rawImages = await Promise.all(images.map((b) => RawImage.fromBlob(new Blob([b]))))
    const ref = (await processor(text, rawImages, pcm, { add_special_tokens: false })) as Record<
      string,
      TjsTensor
    >
    const refIds = Array.from(ref.input_ids!.data as BigInt64Array, Number)

    const ours = expandMediaPrompt(tokenizer, text as string, media.prompt)
    expect(ours.ids).toEqual(refIds)
    expect([ours.images, ours.audio]).toEqual([2, 1])
    const s = tokenizer.special
    expect(ours.imagePositions).toEqual(refIds.flatMap((id, i) => (id === s.imageToken ? [i] : [])))
    expect(ours.audioPositions).toEqual(refIds.flatMap((id, i) => (id === s.audioToken ? [i] : [])))
    expect([ours.imagePositions.length, ours.audioPositions.length]).toEqual([512, 188])
    // Each run is framed by its markers.
    const first = ours.imagePositions[0]!
    expect(ours.ids[first - 1]).toBe(s.boi)
    expect(ours.ids[first + 256]).toBe(s.eoi)
    expect(ours.ids[ours.audioPositions[0]! - 1]).toBe(s.boa)
    expect(ours.ids[ours.audioPositions.at(-1)! + 1]).toBe(s.eoa)

    const pixels = await Promise.all(images.map((b) => preprocessImage(b, media.image)))
    const stacked = new Float32Array(pixels.flatMap((p) => Array.from(p.data)))
    expect(ref.pixel_values!.dims).toEqual([2, 3, 768, 768])
    const pixelDiff = maxAbsDiff(stacked, ref.pixel_values!.data as Float32Array)
    const audio = new LogMelExtractor(media.audio).extract(pcm)
    expect(ref.input_features!.dims).toEqual([1, audio.frames, 128])
    const audioDiff = maxAbsDiff(audio.data, ref.input_features!.data as Float32Array)
    console.log(`processor call: pixel_values diff ${pixelDiff}, input_features diff ${audioDiff}`)
    expect(pixelDiff).toBe(0)
    expect(audioDiff).toBeLessThanOrEqual(1e-4)
  })

  it('leaves a text-only prompt as the plain encoding', () => {
    const messages: ChatMessage[] = [{ role: 'user', content: 'Hello there' }]
    const text = tokenizer.renderChat(messages, { addGenerationPrompt: true })
    const ours = expandMediaPrompt(tokenizer, text, media.prompt)
    expect(ours).toEqual({
      ids: tokenizer.encode(text),
      imagePositions: [],
      audioPositions: [],
      images: 0,
      audio: 0,
    })
  })

  it('tokenizes the inserted newlines with their neighbours on the Gemma-size vocabulary', async () => {
    // The 262k vocabulary merges newline runs: the system prefix's "\n\n" meets the run's "\n\n".
    const dir = await ensureContractModel({ vocab: 'gemma' })
    const big = await ChatTokenizer.load(dir)
    const bigProcessor = await referenceProcessor(dir)
    const messages: ChatMessage[] = [
      { role: 'system', content: 'Be brief.' },
      {
        role: 'user',
        content: [{ type: 'image' }, { type: 'audio' }, { type: 'text', text: 'Go' }],
      },
    ]
    const text = big.renderChat(messages, { addGenerationPrompt: true })
    const image = await RawImage.fromBlob(new Blob([images[0]!]))
    const ref = (await bigProcessor(text, [image], chirp(1), {
      add_special_tokens: false,
    })) as Record<string, TjsTensor>
    const ours = expandMediaPrompt(big, text, media.prompt)
    expect(ours.ids).toEqual(Array.from(ref.input_ids!.data as BigInt64Array, Number))
    expect([ours.imagePositions.length, ours.audioPositions.length]).toEqual([256, 188])
    // Splicing ids into the tokenized template would not give these ids.
    const s = big.special
    const newlines = big.encode('\n\n')
    const run = (soft: number, begin: number, end: number, n: number) => [
      ...newlines,
      begin,
      ...Array<number>(n).fill(soft),
      end,
      ...newlines,
    ]
    const spliced = big.encode(text).flatMap((id) => {
      if (id === s.imageToken) return run(id, s.boi!, s.eoi!, 256)
      if (id === s.audioToken) return run(id, s.boa!, s.eoa!, 188)
      return [id]
    })
    expect(spliced).not.toEqual(ours.ids)
  })
})
