/**
 * @module test/contract-model/folder
 * The generated folder: every contract file, config ids of the small vocabulary, byte-identical
 * output for a seed, atomic generation and the per-options cache.
 */
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureContractModel } from '../../../gpu-node/contract-model/cache.ts'
import {
  ModelFolderExistsError,
  generateContractModel,
} from '../../../gpu-node/contract-model/generate.ts'
import { resolveOptions } from '../../../gpu-node/contract-model/options.ts'
import { GEMMA3N_CHAT_TEMPLATE } from '../../../gpu-node/contract-model/chat-template.ts'
import { makeModel, tempRoot } from './helpers.ts'

const STEMS = ['embed_tokens', 'decoder_model_merged', 'vision_encoder', 'audio_encoder']
const TOP_FILES = [
  'chat_template.jinja',
  'config.json',
  'generation_config.json',
  'onnx',
  'preprocessor_config.json',
  'processor_config.json',
  'special_tokens_map.json',
  'tokenizer.json',
  'tokenizer_config.json',
]

let root: string
let cleanup: () => Promise<void>
let dir: string

async function readJson(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>
}

async function allFiles(folder: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>()
  for (const name of await readdir(folder, { recursive: true })) {
    if (name === 'onnx') continue
    files.set(name, await readFile(join(folder, name)))
  }
  return files
}

beforeAll(async () => {
  ;({ root, cleanup } = await tempRoot())
  dir = await makeModel(root, 'm', { vocab: 'small', dtypes: ['fp32', 'q4', 'fp16'] })
})

afterAll(async () => {
  await cleanup()
})

describe('folder contents', () => {
  it('has every contract file, four graphs with external data per dtype', async () => {
    expect((await readdir(dir)).sort()).toEqual(TOP_FILES)
    const expected = ['', '_q4', '_fp16'].flatMap((sfx) =>
      STEMS.flatMap((s) => [`${s}${sfx}.onnx`, `${s}${sfx}.onnx_data`]),
    )
    expect((await readdir(join(dir, 'onnx'))).sort()).toEqual(expected.sort())
  })

  it('writes config.json with the vocabulary ids and the contract-model label', async () => {
    const config = await readJson(join(dir, 'config.json'))
    const tokenizer = await readJson(join(dir, 'tokenizer.json'))
    const added = tokenizer.added_tokens as { id: number; content: string }[]
    const id = (content: string): number | undefined => added.find((t) => t.content === content)?.id
    expect(config).toMatchObject({
      model_type: 'gemma3n',
      architectures: ['Gemma3nForConditionalGeneration'],
      image_token_id: id('<image_soft_token>'),
      audio_token_id: id('<audio_soft_token>'),
      boi_token_id: id('<start_of_image>'),
      eoa_token_id: id('<end_of_audio>'),
      vision_soft_tokens_per_image: 256,
      audio_soft_tokens_per_image: 188,
      'transformers.js_config': { dtype: 'fp32', kv_cache_dtype: 'float32' },
      text_config: {
        model_type: 'gemma3n_text',
        vocab_size: 1024,
        vocab_size_per_layer_input: 1016,
        num_hidden_layers: 4,
        num_kv_shared_layers: 0,
        hidden_size: 64,
        head_dim: 32,
      },
      gemma_edge_contract_model: { random_weights: true, generator_version: 1 },
    })
    expect(config.gemma_edge_contract_model).toMatchObject({
      options: resolveOptions({ vocab: 'small', dtypes: ['fp32', 'q4', 'fp16'] }),
    })
    const generation = await readJson(join(dir, 'generation_config.json'))
    expect(generation).toMatchObject({
      eos_token_id: [id('<eos>'), id('<end_of_turn>')],
      bos_token_id: id('<bos>'),
      pad_token_id: id('<pad>'),
      top_k: 64,
    })
  })

  it('writes the tokenizer, processor and preprocessor configs', async () => {
    const tc = await readJson(join(dir, 'tokenizer_config.json'))
    expect(tc).toMatchObject({
      boi_token: '<start_of_image>',
      eoi_token: '<end_of_image>',
      image_token: '<image_soft_token>',
      boa_token: '<start_of_audio>',
      eoa_token: '<end_of_audio>',
      audio_token: '<audio_soft_token>',
      processor_class: 'Gemma3nProcessor',
      chat_template: GEMMA3N_CHAT_TEMPLATE,
    })
    expect(await readFile(join(dir, 'chat_template.jinja'), 'utf8')).toBe(GEMMA3N_CHAT_TEMPLATE)
    expect(await readJson(join(dir, 'processor_config.json'))).toEqual({
      processor_class: 'Gemma3nProcessor',
      audio_seq_length: 188,
      image_seq_length: 256,
    })
    expect(await readJson(join(dir, 'preprocessor_config.json'))).toMatchObject({
      feature_extractor_type: 'Gemma3nAudioFeatureExtractor',
      image_processor_type: 'SiglipImageProcessorFast',
      feature_size: 128,
      fft_length: 1024,
      size: { height: 768, width: 768 },
      do_normalize: false,
    })
  })
})

describe('determinism and atomicity', () => {
  it('writes byte-identical folders for the same seed and different weights for another', async () => {
    const opts = { vocab: 'small', seed: 7 } as const
    const a = await allFiles(await makeModel(root, 'a', opts))
    const b = await allFiles(await makeModel(root, 'b', opts))
    expect([...a.keys()]).toEqual([...b.keys()])
    for (const [name, bytes] of a)
      expect(bytes.equals(b.get(name) ?? Buffer.alloc(0)), name).toBe(true)
    const c = await allFiles(await makeModel(root, 'c', { ...opts, seed: 8 }))
    const data = 'onnx/decoder_model_merged.onnx_data'
    expect(a.get(data)?.equals(c.get(data) ?? Buffer.alloc(0))).toBe(false)
  })

  it('refuses an existing folder and leaves no temporary folder behind', async () => {
    await expect(generateContractModel(dir, resolveOptions({ vocab: 'small' }))).rejects.toThrow(
      ModelFolderExistsError,
    )
    expect((await readdir(root)).filter((n) => n.includes('.tmp-'))).toEqual([])
  })

  it('ensureContractModel generates once per options, also when two calls race', async () => {
    const previous = process.env.GEMMA_CONTRACT_CACHE
    process.env.GEMMA_CONTRACT_CACHE = join(root, 'cache')
    try {
      const [p1, p2] = await Promise.all([
        ensureContractModel({ vocab: 'small', layers: 2 }),
        ensureContractModel({ vocab: 'small', layers: 2 }),
      ])
      expect(p1).toBe(p2)
      expect(p1).toMatch(/small-L2kv2-h64-.*-[0-9a-f]{10}$/)
      expect(await readdir(join(root, 'cache'))).toHaveLength(1)
      const config = await readJson(join(p1, 'config.json'))
      expect(config.text_config).toMatchObject({ num_hidden_layers: 2 })
      const other = await ensureContractModel({ vocab: 'small', layers: 2, seed: 3 })
      expect(other).not.toBe(p1)
    } finally {
      if (previous === undefined) delete process.env.GEMMA_CONTRACT_CACHE
      else process.env.GEMMA_CONTRACT_CACHE = previous
    }
  })
})
