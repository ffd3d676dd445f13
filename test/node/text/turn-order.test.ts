import { describe, expect, it } from 'vitest'
import { templateTurns } from '../../../gpu-node/text/turn-order.ts'
import type { ChatMessage } from '../../../gpu-node/text/chat-tokenizer.ts'

const user = (content: ChatMessage['content']): ChatMessage => ({ role: 'user', content })
const model = (content: string): ChatMessage => ({ role: 'assistant', content })

describe('templateTurns', () => {
  it('leaves alternating turns as they are', () => {
    const turns = [
      { role: 'system', content: 'Be brief.' } as const,
      user('Hi'),
      model('Hello.'),
      user('Why?'),
    ]
    expect(templateTurns(turns)).toEqual(turns)
  })

  it('joins a run of one role with a blank line, without doubling the whitespace around it', () => {
    expect(templateTurns([user('A \n'), user(' B'), user('C'), model('D'), model('E')])).toEqual([
      user('A\n\nB\n\nC'),
      model('D\n\nE'),
    ])
  })

  it('keeps images and audio in place, and the break inside a text the template will not trim', () => {
    const photo = user([{ type: 'text', text: 'What is this?' }, { type: 'image' }])
    const clip = user([{ type: 'audio' }, { type: 'text', text: 'And this?' }])
    expect(templateTurns([user('Hello.'), photo, clip, user('Thanks.')])).toEqual([
      user([
        { type: 'text', text: 'Hello.\n\nWhat is this?' },
        { type: 'image' },
        { type: 'audio' },
        { type: 'text', text: 'And this?\n\nThanks.' },
      ]),
    ])
  })

  it('makes a lone system prompt the user turn', () => {
    expect(templateTurns([{ role: 'system', content: 'Say hi.' }])).toEqual([user('Say hi.')])
  })
})
