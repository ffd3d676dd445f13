import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ChatTokenizer } from '../../../gpu-node/text/chat-tokenizer.ts'
import { IncrementalDetokenizer } from '../../../gpu-node/text/incremental-detokenizer.ts'
import { createRng } from '../../../gpu-node/text/random.ts'
import { TINY, byteId, writeTinyModel } from './fixtures/tiny-model.ts'

let tok: ChatTokenizer
let remove: () => Promise<void>
beforeAll(async () => {
  const model = await writeTinyModel()
  remove = model.remove
  tok = await ChatTokenizer.load(model.dir)
})
afterAll(() => remove())

const decodeText = (ids: number[]) => tok.decode(ids, { skipSpecialTokens: true })
const bytesOf = (char: string) => [...new TextEncoder().encode(char)].map(byteId)

/** Random ids: vocabulary pieces, multibyte characters as byte tokens, and an occasional EOS. */
function randomIds(seed: number, length: number): number[] {
  const rng = createRng(seed)
  const pick = <T>(items: readonly T[]) => items[Math.floor(rng.next() * items.length)]!
  const pieces = ['hello', ' world', ' hi', 'user', 'model', ' ', '\n', 'a', 'Z', '9', '!']
  const multibyte = ['€', 'é', '你', '好', '😀', '👍🏽', '∑', 'ß']
  const ids: number[] = []
  while (ids.length < length) {
    const roll = rng.next()
    if (roll < 0.45) ids.push(...tok.encode(pick(pieces)))
    else if (roll < 0.95) ids.push(...bytesOf(pick(multibyte)))
    else ids.push(TINY.eos)
  }
  return ids
}

function stream(detok: IncrementalDetokenizer, ids: number[]) {
  const pieces = ids.map((id) => detok.push(id))
  return { pieces, text: pieces.join('') + detok.flush() }
}

describe('IncrementalDetokenizer', () => {
  it('holds back byte-fallback tokens until the character is complete', () => {
    const detok = new IncrementalDetokenizer(decodeText)
    expect([0xe2, 0x82, 0xac].map((b) => detok.push(byteId(b)))).toEqual(['', '', '€'])
    expect(detok.push(tok.encode(' hi')[0]!)).toBe(' hi')
    expect(detok.flush()).toBe('')
  })

  it('equals the full decode for random sequences and never emits a partial character', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const ids = randomIds(seed, 60)
      const { pieces, text } = stream(new IncrementalDetokenizer(decodeText), ids)
      expect(text).toBe(decodeText(ids))
      expect(pieces.join('')).not.toContain('\uFFFD')
    }
  })

  it('keeps spaces that the decoder strips at the start of a decode', () => {
    // Like a SentencePiece Metaspace decoder: the first '▁' of a decode is not a space.
    const stripping = (ids: number[]) => decodeText(ids).replace(/^ /, '')
    const ids = [' hello', ' world', ' hi', ' €'].flatMap((text) => tok.encode(text))
    const { pieces, text } = stream(new IncrementalDetokenizer(stripping), ids)
    expect(text).toBe('hello world hi €')
    expect(pieces.filter((piece) => piece.startsWith(' ')).length).toBeGreaterThan(0)
  })

  it('releases an unfinished character on flush and drops skipped ids', () => {
    const raw = (ids: number[]) => tok.decode(ids)
    const detok = new IncrementalDetokenizer(raw, { skipIds: [TINY.eos, TINY.endOfTurn] })
    expect(tok.encode('hi').map((id) => detok.push(id))).toEqual(['h', 'i'])
    expect(detok.push(byteId(0xe2))).toBe('')
    expect(detok.push(TINY.endOfTurn)).toBe('')
    expect(detok.push(TINY.eos)).toBe('')
    expect(detok.flush()).toBe('\uFFFD')
  })

  it('decodes a bounded window however long the stream gets', () => {
    let longest = 0
    const measured = (ids: number[]) => {
      longest = Math.max(longest, ids.length)
      return decodeText(ids)
    }
    const ids = randomIds(7, 2000)
    expect(stream(new IncrementalDetokenizer(measured), ids).text).toBe(decodeText(ids))
    // Left context plus at most one held 4-byte character (and the EOS ids between them).
    expect(longest).toBeLessThanOrEqual(16)
  })

  it('gives up holding after maxHeldTokens undecodable bytes', () => {
    const detok = new IncrementalDetokenizer(decodeText, { maxHeldTokens: 3 })
    const pieces = [0xff, 0xff, 0xff, 0xff].map((b) => detok.push(byteId(b)))
    expect(pieces.slice(0, 3)).toEqual(['', '', '\uFFFD'.repeat(3)])
    expect(pieces.join('') + detok.flush()).toBe('\uFFFD'.repeat(4))
  })
})
