import { describe, expect, it } from 'vitest'
import { parseChatRequest } from '../../../shared/chat-request.ts'

const base = { model: 'gemma-3n-e2b-it', messages: [{ role: 'user', content: 'Hi' }] }

function problem(body: unknown) {
  const result = parseChatRequest(body)
  if (result.ok) throw new Error('expected a problem')
  return result.problem
}

describe('parseChatRequest', () => {
  it('resolves aliases and defaults', () => {
    const result = parseChatRequest({
      ...base,
      messages: [
        { role: 'developer', content: 'Be brief.' },
        { role: 'user', content: [{ type: 'text', text: 'Hi' }] },
        { role: 'assistant', content: null },
      ],
      max_tokens: 10,
      max_completion_tokens: 20,
      stop: 'END',
      stream: true,
      stream_options: { include_usage: true },
      unknown_field: 'ignored',
    })
    expect(result.ok).toBe(true)
    if (!result.ok) return
    expect(result.request.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant'])
    expect(result.request.messages[2]!.content).toBe('')
    expect(result.request.maxCompletionTokens).toBe(20)
    expect(result.request.stop).toEqual(['END'])
    expect(result.request.includeUsage).toBe(true)
    expect(result.request.temperature).toBeNull()
  })

  it.each([
    [{ ...base, messages: [] }, 'messages', /at least one message/],
    [{ ...base, messages: [{ role: 'tool', content: 'x' }] }, 'messages[0].role', /tool/],
    [
      { ...base, messages: [{ role: 'user', content: [{ type: 'video', url: 'x' }] }] },
      'messages[0].content[0].type',
      /video/,
    ],
    [
      { ...base, messages: [{ role: 'user', content: [{ type: 'text', text: 5 }] }] },
      'messages[0].content[0].text',
      /string/,
    ],
    [{ ...base, messages: [{ role: 'user', content: 5 }] }, 'messages[0].content', /5/],
    [{ ...base, max_tokens: 0 }, 'max_tokens', /at least 1/],
    [{ ...base, max_completion_tokens: -3 }, 'max_completion_tokens', /at least 1/],
    [{ ...base, max_tokens: 1.5 }, 'max_tokens', /integer/],
    [{ ...base, temperature: 3 }, 'temperature', /2/],
    [{ ...base, temperature: '1' }, 'temperature', /number/],
    [{ ...base, stop: ['a', 'b', 'c', 'd', 'e'] }, 'stop', /at most 4/],
    [{ ...base, stop: [''] }, 'stop[0]', /must not be empty/],
    [{ ...base, n: 0 }, 'n', /at least 1/],
    [
      { ...base, stream_options: { include_usage: true } },
      'stream_options',
      /only .* stream is true/,
    ],
    [{ ...base, seed: 2 ** 64 }, 'seed', /64-bit/],
    [{ messages: base.messages }, 'model', /required/],
  ])('names the offending field (%#)', (body, param, message) => {
    const p = problem(body)
    expect(p.param).toBe(param)
    expect(p.message).toMatch(message)
    expect(p.kind).not.toBe('unsupported_parameter')
  })

  it('codes each problem as OpenAI does: missing, of the wrong type, or a value it cannot take', () => {
    const kinds = [
      [{ messages: base.messages }, 'missing_required_parameter'],
      [{ ...base, temperature: '1' }, 'invalid_type'],
      [{ ...base, messages: 'hi' }, 'invalid_type'],
      [
        { ...base, messages: [{ role: 'user', content: [{ type: 'text', text: 5 }] }] },
        'invalid_type',
      ],
      [{ ...base, temperature: 3 }, 'invalid_value'],
      [{ ...base, max_tokens: 1.5 }, 'invalid_value'],
      [{ ...base, messages: [{ role: 'tool', content: 'x' }] }, 'invalid_value'],
      [{ ...base, n: 2 }, 'unsupported_parameter'],
      [{ ...base, messages: [{ role: 'user', content: 5 }] }, 'invalid_type'],
      [{ ...base, stop: 5 }, 'invalid_type'],
      [{ ...base, messages: ['hi'] }, 'invalid_type'],
    ] as const
    for (const [body, kind] of kinds) expect(problem(body).kind).toBe(kind)
    expect(problem([1, 2]).kind).toBe('invalid_type')
  })

  it('marks valid OpenAI parameters that gemma-edge does not implement', () => {
    const extras = [
      { n: 2 },
      { logprobs: true },
      { top_logprobs: 3 },
      { tools: [{ type: 'function' }] },
      { logit_bias: { '5': 1 } },
      { modalities: ['text', 'audio'] },
      { audio: { voice: 'alloy', format: 'wav' } },
      { functions: [{ name: 'f', parameters: {} }] },
      { function_call: 'auto' },
      { tool_choice: 'required' },
      { tool_choice: { type: 'function', function: { name: 'f' } } },
    ]
    for (const extra of extras) {
      const p = problem({ ...base, ...extra })
      expect(p.kind).toBe('unsupported_parameter')
      expect(p.param).toBe(Object.keys(extra)[0])
    }
  })

  it('quotes a wrong value briefly, however large it is', () => {
    const url = `data:image/png;base64,${'A'.repeat(3_000_000)}`
    const p = problem({
      ...base,
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: url }] }],
    })
    expect(p.param).toBe('messages[0].content[0].image_url')
    expect(p.message.length).toBeLessThan(300)
    expect(p.message).toMatch(/… \(3000024 characters\)/)
  })

  it('accepts those parameters where they change nothing', () => {
    const neutral = { n: 1, logprobs: false, top_logprobs: 0, logit_bias: {}, modalities: ['text'] }
    expect(parseChatRequest({ ...base, ...neutral, audio: null }).ok).toBe(true)
    const noTools = { functions: [], function_call: 'none', tool_choice: 'auto' }
    expect(parseChatRequest({ ...base, ...noTools }).ok).toBe(true)
    expect(parseChatRequest({ ...base, tool_choice: 'none' }).ok).toBe(true)
    const streamed = { stream: true, stream_options: { include_usage: true } }
    expect(parseChatRequest({ ...base, ...streamed, seed: 2 ** 62 }).ok).toBe(true)
    // The ends of int64, as JSON numbers parse: -9223372036854775808 and 9223372036854775807.
    for (const seed of [JSON.parse('-9223372036854775808'), JSON.parse('9223372036854775807')])
      expect(parseChatRequest({ ...base, seed }).ok).toBe(true)
  })

  it('refuses a body that is not an object', () => {
    expect(problem([1, 2]).message).toMatch(/JSON object/)
    expect(problem(null).param).toBeNull()
  })
})
