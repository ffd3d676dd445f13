/**
 * Long prompts are encoded on a thread of their own (prompt-encoder.ts): the same ids as the main thread's
 * tokenizer gives, the main thread free meanwhile, short texts encoded in place, and everything encoded in
 * place once the thread is gone. On the Gemma-vocabulary contract model.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureContractModel } from '../../../gpu-node/contract-model/cache.ts'
import { ChatTokenizer } from '../../../gpu-node/text/chat-tokenizer.ts'
import {
  INLINE_MAX_CHARS,
  promptEncoder,
  startEncoderThread,
} from '../../../gpu-node/text/prompt-encoder.ts'
import type { EncoderThread } from '../../../gpu-node/text/prompt-encoder.ts'

let tokenizer: ChatTokenizer
let thread: EncoderThread

beforeAll(async () => {
  const dir = await ensureContractModel()
  ;[tokenizer, thread] = await Promise.all([ChatTokenizer.load(dir), startEncoderThread(dir)])
})
afterAll(async () => thread?.close())

/** Mixed text: words, punctuation, digits, accents and CJK, `length` characters or a little more. */
function text(length: number): string {
  const pieces = ['The river ', 'ran, ', '42 times; ', 'café ', '日本語の文 ', 'and\nthen ']
  let out = ''
  for (let i = 0; out.length < length; i++) out += pieces[i % pieces.length]
  return out
}

/**
 * What `run` resolves to, and how many times a timer fired meanwhile: none when the work ran on this
 * thread (a synchronous encode lets no timer run before it returns).
 */
async function timerTicksDuring<T>(run: () => Promise<T>): Promise<{ value: T; ticks: number }> {
  let ticks = 0
  const timer = setInterval(() => ticks++, 1)
  try {
    const value = await run()
    return { value, ticks }
  } finally {
    clearInterval(timer)
  }
}

describe('the prompt encoder', () => {
  it('encodes a long text on its thread into the ids the main thread gives, while the main thread runs', async () => {
    const long = text(80_000)
    const encoder = promptEncoder(thread, tokenizer)
    const { value: ids, ticks } = await timerTicksDuring(() => encoder.encode(long))
    expect(ticks).toBeGreaterThan(0)
    expect(ids).toEqual(tokenizer.encode(long))
    expect(ids.length).toBeGreaterThan(10_000)
  })

  it('encodes short texts in place, and every text in place once the thread is gone', async () => {
    const short = text(INLINE_MAX_CHARS - 10)
    const encoder = promptEncoder(thread, tokenizer)
    const { value: ids, ticks } = await timerTicksDuring(() => encoder.encode(short))
    expect(ticks).toBe(0)
    expect(ids).toEqual(tokenizer.encode(short))

    const deaths: Error[] = []
    const doomed = await startEncoderThread(await ensureContractModel({ vocab: 'small' }), (e) =>
      deaths.push(e),
    )
    const small = await ChatTokenizer.load(await ensureContractModel({ vocab: 'small' }))
    const fallback = promptEncoder(doomed, small)
    // A text still being encoded when the thread stops is refused, not left waiting.
    const pending = fallback.encode(text(200_000))
    await doomed.close()
    await expect(pending).rejects.toThrow(/exited/)
    const long = text(INLINE_MAX_CHARS * 3)
    expect(await fallback.encode(long)).toEqual(small.encode(long))
    expect(deaths).toEqual([]) // closing it is not its death
  })
})
