/**
 * @module test/contract-model/transformers-js
 * transformers.js 4.3.1 (the oracle) loads the small contract model from local files only and
 * generates greedily for a text + image + audio prompt.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  AutoProcessor,
  Gemma3nForConditionalGeneration,
  RawImage,
  env,
} from '@huggingface/transformers'
import type { Tensor } from '@huggingface/transformers'
import { makeModel, tempRoot } from './helpers.ts'

let cleanup: () => Promise<void>
let dir: string

beforeAll(async () => {
  const tmp = await tempRoot()
  cleanup = tmp.cleanup
  dir = await makeModel(tmp.root, 'm', { vocab: 'small' })
  env.allowRemoteModels = false
  env.allowLocalModels = true
})

afterAll(async () => {
  await cleanup()
})

describe('transformers.js', () => {
  it('loads the folder and generates for an image + audio prompt', async () => {
    const processor = await AutoProcessor.from_pretrained(dir)
    const model = await Gemma3nForConditionalGeneration.from_pretrained(dir, {
      dtype: 'fp32',
      device: 'cpu',
    })
    const prompt = processor.apply_chat_template(
      [
        { role: 'system', content: 'S' },
        {
          role: 'user',
          content: [{ type: 'image' }, { type: 'audio' }, { type: 'text', text: 'Describe.' }],
        },
      ],
      { add_generation_prompt: true },
    ) as string
    const image = new RawImage(
      Uint8ClampedArray.from({ length: 32 * 32 * 3 }, (_, i) => (i * 7) % 256),
      32,
      32,
      3,
    )
    const audio = Float32Array.from({ length: 8000 }, (_, i) => Math.sin(i / 9))
    const inputs = await processor(prompt, image, audio, { add_special_tokens: false })
    const ids = Array.from((inputs.input_ids as Tensor).data as BigInt64Array, Number)
    const config = model.config as unknown as { image_token_id: number; audio_token_id: number }
    expect(ids.filter((id) => id === config.image_token_id)).toHaveLength(256)
    expect(ids.filter((id) => id === config.audio_token_id)).toHaveLength(188)
    const output = (await model.generate({
      ...inputs,
      max_new_tokens: 8,
      do_sample: false,
    })) as Tensor
    expect(output.dims).toEqual([1, ids.length + 8])
    await model.dispose()
  })
})
