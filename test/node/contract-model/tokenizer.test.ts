/**
 * @module test/contract-model/tokenizer
 * Tokenizers of both vocabularies with @huggingface/tokenizers: special ids, UTF-8 round trip
 * through byte fallback, and the chat template rendering the contract example (§5).
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Tokenizer } from '@huggingface/tokenizers'
import { Template } from '@huggingface/jinja'
import ort from 'onnxruntime-node'
import { makeModel, tempRoot } from './helpers.ts'

const TEXT = 'Hello world, the model answers: 你好 🌍 café\n\tdone'
const SPECIALS = [
  '<start_of_image>',
  '<image_soft_token>',
  '<end_of_image>',
  '<start_of_audio>',
  '<audio_soft_token>',
  '<end_of_audio>',
  '<start_of_turn>',
  '<end_of_turn>',
  '<bos>',
  '<eos>',
  '<pad>',
]

let cleanup: () => Promise<void>
let smallDir: string
let gemmaDir: string

async function load(dir: string): Promise<{ tok: Tokenizer; config: Record<string, unknown> }> {
  const json = JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8')) as object
  const config = JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8')) as Record<
    string,
    unknown
  >
  return { tok: new Tokenizer(json, config), config }
}

function idsOf(tok: Tokenizer, text: string): number[] {
  return tok.encode(text, { add_special_tokens: false }).ids
}

beforeAll(async () => {
  const tmp = await tempRoot()
  cleanup = tmp.cleanup
  smallDir = await makeModel(tmp.root, 'small', { vocab: 'small' })
  // The one Gemma-vocabulary folder of the suite (~207 MB, a few seconds).
  gemmaDir = await makeModel(tmp.root, 'gemma', { vocab: 'gemma' })
})

afterAll(async () => {
  await cleanup()
})

describe('small vocabulary', () => {
  it('encodes each special to one id, at low ids and near the top', async () => {
    const { tok } = await load(smallDir)
    const ids = SPECIALS.map((s) => idsOf(tok, s))
    for (const one of ids) expect(one).toHaveLength(1)
    const flat = ids.flat()
    expect(new Set(flat).size).toBe(SPECIALS.length)
    expect(flat.slice(0, 6).every((id) => id >= 1000 && id < 1024)).toBe(true)
    expect(flat.slice(6).every((id) => id < 8)).toBe(true)
  })

  it('round-trips UTF-8 through byte fallback and uses merges for common words', async () => {
    const { tok } = await load(smallDir)
    const ids = idsOf(tok, TEXT)
    expect(tok.decode(ids)).toBe(TEXT)
    expect(tok.encode('the', { add_special_tokens: true }).ids[0]).toBe(tok.token_to_id('<bos>'))
    expect(tok.tokenize(' the world')).toEqual(['▁the', '▁world'])
  })
})

describe('gemma vocabulary', () => {
  it('encodes the Gemma 3n special ids', async () => {
    const { tok } = await load(gemmaDir)
    expect(SPECIALS.map((s) => idsOf(tok, s))).toEqual(
      [255999, 262145, 262144, 256000, 262273, 262272, 105, 106, 2, 1, 0].map((id) => [id]),
    )
    expect(tok.decode(idsOf(tok, TEXT))).toBe(TEXT)
    expect(tok.get_vocab().size).toBe(262_400)
  })

  it('writes the Gemma 3n config and generation ids and a 262,400-wide decoder', async () => {
    const read = async (n: string): Promise<Record<string, unknown>> =>
      JSON.parse(await readFile(join(gemmaDir, n), 'utf8')) as Record<string, unknown>
    expect(await read('generation_config.json')).toMatchObject({
      eos_token_id: [1, 106],
      bos_token_id: 2,
      pad_token_id: 0,
    })
    expect(await read('config.json')).toMatchObject({
      image_token_id: 262145,
      audio_token_id: 262273,
      boi_token_id: 255999,
      eoi_token_id: 262144,
      boa_token_id: 256000,
      eoa_token_id: 262272,
      text_config: { vocab_size: 262400, vocab_size_per_layer_input: 262144 },
    })
    const decoder = await ort.InferenceSession.create(
      join(gemmaDir, 'onnx', 'decoder_model_merged.onnx'),
    )
    expect(decoder.outputMetadata[0]).toMatchObject({
      name: 'logits',
      shape: ['batch_size', 'sequence_length', 262400],
    })
    await decoder.release()
  })
})

describe('chat template', () => {
  it('renders system prefix, image/audio items, trimmed text and the generation prompt', async () => {
    const jinja = await readFile(join(smallDir, 'chat_template.jinja'), 'utf8')
    const rendered = new Template(jinja).render({
      bos_token: '<bos>',
      add_generation_prompt: true,
      messages: [
        { role: 'system', content: 'S' },
        {
          role: 'user',
          content: [{ type: 'image' }, { type: 'audio' }, { type: 'text', text: ' T ' }],
        },
      ],
    })
    expect(rendered).toBe(
      '<bos><start_of_turn>user\nS\n\n<image_soft_token><audio_soft_token>T<end_of_turn>\n<start_of_turn>model\n',
    )
  })

  it('renders assistant turns as model and rejects non-alternating roles', async () => {
    const jinja = await readFile(join(smallDir, 'chat_template.jinja'), 'utf8')
    const template = new Template(jinja)
    const turns = [
      { role: 'user', content: ' Hi ' },
      { role: 'assistant', content: 'Yo' },
      { role: 'user', content: 'Q' },
    ]
    expect(template.render({ bos_token: '<bos>', messages: turns })).toBe(
      '<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nYo<end_of_turn>\n<start_of_turn>user\nQ<end_of_turn>\n',
    )
    expect(() => template.render({ bos_token: '<bos>', messages: [turns[0], turns[0]] })).toThrow(
      /alternate/,
    )
  })
})
