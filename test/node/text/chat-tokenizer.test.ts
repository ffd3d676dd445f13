import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ChatTemplateError, ChatTokenizer } from '../../../gpu-node/text/chat-tokenizer.ts'
import { TINY, byteId, writeTinyModel } from './fixtures/tiny-model.ts'
import type { TinyModelFiles } from './fixtures/tiny-model.ts'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()))
})

async function load(files?: TinyModelFiles) {
  const model = await writeTinyModel(files)
  cleanups.push(model.remove)
  return { dir: model.dir, tok: await ChatTokenizer.load(model.dir) }
}

describe('ChatTokenizer special ids', () => {
  it('reads every id from the folder', async () => {
    const { tok } = await load()
    expect(tok.special).toEqual({
      bos: TINY.bos,
      eos: [TINY.eos, TINY.endOfTurn],
      pad: TINY.pad,
      imageToken: TINY.imageToken,
      audioToken: TINY.audioToken,
      boi: TINY.boi,
      eoi: TINY.eoi,
      boa: TINY.boa,
      eoa: TINY.eoa,
      startOfTurn: TINY.startOfTurn,
      endOfTurn: TINY.endOfTurn,
    })
    expect(tok.vocabSize).toBe(byteId(255) + 1 + 72 + 18)
  })

  it('accepts a single eos id in generation_config.json', async () => {
    const { tok } = await load({ generationConfig: { bos_token_id: 5, eos_token_id: 3 } })
    expect(tok.special.bos).toBe(5)
    expect(tok.special.eos).toEqual([3])
    expect(tok.special.pad).toBe(TINY.pad) // from config.json text_config
  })

  it('falls back to config.json, then to token names in tokenizer_config.json', async () => {
    const fromConfig = await load({ generationConfig: null })
    expect(fromConfig.tok.special.eos).toEqual([TINY.eos])
    const fromNames = await load({ generationConfig: null, config: null })
    expect(fromNames.tok.special).toMatchObject({
      bos: TINY.bos,
      eos: [TINY.endOfTurn],
      pad: TINY.pad,
      imageToken: TINY.imageToken,
      boa: TINY.boa,
    })
  })

  it('names the missing or broken file', async () => {
    const noEos = await writeTinyModel({
      generationConfig: null,
      config: null,
      tokenizerConfig: { eos_token: null },
    })
    cleanups.push(noEos.remove)
    await expect(ChatTokenizer.load(noEos.dir)).rejects.toThrow(/No eos_token_id in .*tiny-model-/)

    const badIds = await writeTinyModel({ generationConfig: { bos_token_id: 2, eos_token_id: [] } })
    cleanups.push(badIds.remove)
    await expect(ChatTokenizer.load(badIds.dir)).rejects.toThrow(
      /generation_config\.json.*eos_token_id/,
    )

    const noTemplate = await writeTinyModel({ tokenizerConfig: { chat_template: undefined } })
    cleanups.push(noTemplate.remove)
    await expect(ChatTokenizer.load(noTemplate.dir)).rejects.toThrow(/No chat template/)

    await rm(join(noTemplate.dir, 'tokenizer.json'))
    await expect(ChatTokenizer.load(noTemplate.dir)).rejects.toThrow(
      `Missing ${join(noTemplate.dir, 'tokenizer.json')}`,
    )
  })
})

describe('ChatTokenizer chat template', () => {
  it('prefixes the system message to the first user turn and opens the model turn', async () => {
    const { tok } = await load()
    const text = tok.renderChat(
      [
        { role: 'system', content: 'Be brief.' },
        {
          role: 'user',
          content: [{ type: 'image' }, { type: 'audio' }, { type: 'text', text: ' Hi ' }],
        },
        { role: 'assistant', content: 'Hello.' },
        { role: 'user', content: '  And?  ' },
      ],
      { addGenerationPrompt: true },
    )
    expect(text).toBe(
      '<bos><start_of_turn>user\nBe brief.\n\n<image_soft_token><audio_soft_token>Hi<end_of_turn>\n' +
        '<start_of_turn>model\nHello.<end_of_turn>\n' +
        '<start_of_turn>user\nAnd?<end_of_turn>\n' +
        '<start_of_turn>model\n',
    )
    expect(tok.renderChat([{ role: 'user', content: 'x' }])).toBe(
      '<bos><start_of_turn>user\nx<end_of_turn>\n',
    )
  })

  it('turns template exceptions into ChatTemplateError', async () => {
    const { tok } = await load()
    const messages = [
      { role: 'user', content: 'a' },
      { role: 'user', content: 'b' },
    ] as const
    expect(() => tok.renderChat([...messages])).toThrow(ChatTemplateError)
    expect(() => tok.renderChat([...messages])).toThrow('Conversation roles must alternate')
  })

  it('prefers chat_template.jinja over tokenizer_config.json', async () => {
    const { tok } = await load({
      extra: { 'chat_template.jinja': '{{ bos_token }}[{{ messages | length }}]' },
    })
    expect(tok.renderChat([{ role: 'user', content: 'x' }])).toBe('<bos>[1]')
  })
})

describe('ChatTokenizer encode/decode', () => {
  it('encodes the rendered chat with the template markers as single ids and no extra <bos>', async () => {
    const { tok } = await load()
    const ids = tok.encodeChat([{ role: 'user', content: 'hello world' }], {
      addGenerationPrompt: true,
    })
    expect(ids.slice(0, 2)).toEqual([TINY.bos, TINY.startOfTurn])
    expect(ids.filter((id) => id === TINY.bos)).toHaveLength(1)
    expect(ids).toContain(TINY.endOfTurn)
    expect(tok.decode(ids)).toBe(
      '<bos><start_of_turn>user\nhello world<end_of_turn>\n<start_of_turn>model\n',
    )
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('user\nhello world\nmodel\n')
  })

  it('round-trips text through merges and byte fallback', async () => {
    const { tok } = await load()
    expect(tok.encode('hello world')).toHaveLength(2)
    expect(tok.encode('€')).toEqual([0xe2, 0x82, 0xac].map(byteId))
    for (const text of ['hello world', 'Price: 5€ ok', '你好, 😀 émoji!', ' lead and trail ']) {
      expect(tok.decode(tok.encode(text))).toBe(text)
    }
  })
})
