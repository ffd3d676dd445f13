/**
 * Greedy generation with images and audio matches transformers.js token for token on a generated contract
 * model whose encoders depend on their inputs: the node's own preprocessing, prompt expansion, encoders and
 * feature merge, with the prompt prefilled whole and in chunks that cut through the soft-token runs. On the
 * CPU, and on WebGPU where onnxruntime-node opens an adapter (Mesa's lavapipe on CI), encoders included.
 */
import type { Processor, Tensor as TjsTensor } from '@huggingface/transformers'
import {
  AutoProcessor,
  env,
  Gemma3nForConditionalGeneration,
  RawImage,
} from '@huggingface/transformers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LogMelExtractor } from '../../../gpu-node/media/audio-features.ts'
import { preprocessImage } from '../../../gpu-node/media/image-preprocess.ts'
import { readMediaConfig } from '../../../gpu-node/media/media-config.ts'
import { expandMediaPrompt } from '../../../gpu-node/media/prompt-expansion.ts'
import { Gemma3nRunner } from '../../../gpu-node/model/gemma3n-runner.ts'
import type { DeviceName } from '../../../gpu-node/model/ort-runtime.ts'
import type { MediaInput, StepItem } from '../../../gpu-node/model/runner-types.ts'
import { ChatTokenizer } from '../../../gpu-node/text/chat-tokenizer.ts'
import type { ChatMessage } from '../../../gpu-node/text/chat-tokenizer.ts'
import { chirp, smallModel, testImages } from '../media/helpers.ts'
import { GREEDY } from '../model/greedy.ts'
import { devicesToTest } from '../../support/webgpu.ts'

const DEVICES = await devicesToTest('Multimodal conformance')

const MAX_NEW = 16
const MESSAGES: ChatMessage[] = [
  { role: 'system', content: 'Describe what you get.' },
  {
    role: 'user',
    content: [
      { type: 'image' },
      { type: 'text', text: 'and this sound' },
      { type: 'audio' },
      { type: 'image' },
      { type: 'text', text: 'What are they?' },
    ],
  },
]

let cleanup: () => Promise<void>
const runners = new Map<DeviceName, Gemma3nRunner>()
let reference: number[]
let prompt: number[]
let media: () => MediaInput

beforeAll(async () => {
  const model = await smallModel()
  cleanup = model.cleanup
  const all = await testImages()
  const images = [all['WebP 1000x750']!, all['JPEG 1200x900, EXIF orientation 6']!]
  const pcm = chirp(3)

  env.allowRemoteModels = false
  env.allowLocalModels = true
  const processor: Processor = await AutoProcessor.from_pretrained(model.dir, {
    local_files_only: true,
  })
  const tjs = await Gemma3nForConditionalGeneration.from_pretrained(model.dir, {
    dtype: 'fp32',
    device: 'cpu',
    local_files_only: true,
  })
  const text = processor.apply_chat_template(MESSAGES, { add_generation_prompt: true }) as string
  const raw = await Promise.all(images.map((bytes) => RawImage.fromBlob(new Blob([bytes]))))
  const inputs = (await processor(text, raw, pcm, { add_special_tokens: false })) as Record<
    string,
    TjsTensor
  >
  const output = (await tjs.generate({
    ...inputs,
    max_new_tokens: MAX_NEW,
    do_sample: false,
    eos_token_id: [],
  })) as TjsTensor
  const promptLength = inputs.input_ids!.dims[1]!
  reference = Array.from((output.data as BigInt64Array).slice(promptLength), Number)
  await tjs.dispose()

  const tokenizer = await ChatTokenizer.load(model.dir)
  const config = await readMediaConfig(model.dir)
  const expanded = expandMediaPrompt(
    tokenizer,
    tokenizer.renderChat(MESSAGES, { addGenerationPrompt: true }),
    config.prompt,
  )
  prompt = expanded.ids
  const pixels = await Promise.all(images.map((bytes) => preprocessImage(bytes, config.image)))
  const features = new LogMelExtractor(config.audio).extract(pcm)
  // Fresh copies each time: the runner may keep or transfer what it is given.
  media = () => ({
    images: pixels.map((p) => ({ ...p, data: p.data.slice() })),
    audio: [{ ...features, data: features.data.slice(), mask: features.mask.slice() }],
    imagePositions: expanded.imagePositions,
    audioPositions: expanded.audioPositions,
  })
  for (const device of DEVICES) {
    runners.set(device, await Gemma3nRunner.load({ modelDir: model.dir, runtime: 'node', device }))
  }
})

afterAll(async () => {
  for (const runner of runners.values()) await runner.close()
  await cleanup?.()
})

/** Greedy loop with the prompt prefilled in chunks of `chunk` tokens (media sent with the first). */
async function generate(device: DeviceName, seqId: number, chunk: number): Promise<number[]> {
  const runner = runners.get(device)!
  const out: number[] = []
  for (let start = 0; start < prompt.length; start += chunk) {
    const last = start + chunk >= prompt.length
    const item: StepItem = {
      seqId,
      phase: 'prefill',
      tokens: prompt.slice(start, start + chunk),
      sampling: last ? GREEDY : null,
      seed: 0,
      ...(start === 0 ? { media: media() } : {}),
    }
    const { results } = await runner.step([item])
    if (last) out.push(results[0]!.token!)
  }
  while (out.length < MAX_NEW) {
    const { results } = await runner.step([
      { seqId, phase: 'decode', tokens: [out.at(-1)!], sampling: GREEDY, seed: 0 },
    ])
    out.push(results[0]!.token!)
  }
  await runner.release([seqId])
  return out
}

describe('multimodal generation against transformers.js', () => {
  it('expands the prompt to the processor input_ids length and produces varied tokens', () => {
    expect(prompt.length).toBeGreaterThan(2 * 256 + 188)
    expect(new Set(reference).size).toBeGreaterThanOrEqual(6)
  })

  it.each(DEVICES)(
    'matches token for token with the prompt prefilled whole (%s)',
    async (device) => {
      expect(await generate(device, 1, prompt.length)).toEqual(reference)
    },
  )

  it.each(DEVICES)(
    'matches token for token with chunks that cut through the soft-token runs (%s)',
    async (device) => {
      expect(await generate(device, 2, 97)).toEqual(reference)
    },
  )

  it('differs when the media are missing (the merge matters)', async () => {
    const runner = runners.get('cpu')!
    const item: StepItem = { seqId: 3, phase: 'prefill', tokens: prompt, sampling: GREEDY, seed: 0 }
    const { results } = await runner.step([item])
    const out = [results[0]!.token!]
    while (out.length < MAX_NEW) {
      const next = await runner.step([
        { seqId: 3, phase: 'decode', tokens: [out.at(-1)!], sampling: GREEDY, seed: 0 },
      ])
      out.push(next.results[0]!.token!)
    }
    await runner.release([3])
    expect(out).not.toEqual(reference)
  })
})
