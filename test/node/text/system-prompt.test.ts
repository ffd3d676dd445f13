import { describe, expect, it } from 'vitest'
import { foldSystemMessages } from '../../../gpu-node/text/system-prompt.ts'
import type { ChatMessage } from '../../../gpu-node/text/chat-tokenizer.ts'

const user: ChatMessage = { role: 'user', content: 'Hi' }

describe('foldSystemMessages', () => {
  it('leaves a conversation with one string system prompt, or none, as it is', () => {
    const one: ChatMessage[] = [{ role: 'system', content: 'Be brief.' }, user]
    expect(foldSystemMessages(one)).toEqual({ ok: true, messages: one })
    expect(foldSystemMessages([user])).toEqual({ ok: true, messages: [user] })
  })

  it('folds the opening system messages and their text parts into one prompt', () => {
    const messages: ChatMessage[] = [
      { role: 'system', content: 'Be brief.' },
      {
        role: 'system',
        content: [
          { type: 'text', text: 'Answer in French.' },
          { type: 'text', text: 'No lists.' },
        ],
      },
      user,
    ]
    expect(foldSystemMessages(messages)).toEqual({
      ok: true,
      messages: [{ role: 'system', content: 'Be brief.\n\nAnswer in French.\n\nNo lists.' }, user],
    })
  })

  it('reports a system message after the conversation has begun', () => {
    const late: ChatMessage[] = [
      { role: 'system', content: 'A' },
      user,
      { role: 'assistant', content: 'Hello.' },
      { role: 'system', content: 'B' },
    ]
    expect(foldSystemMessages(late)).toEqual({ ok: false, misplaced: 3 })
  })
})
