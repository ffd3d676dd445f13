/**
 * @module
 * What `POST /v1/chat/completions` refuses before any GPU work (size, content type, JSON, the shared
 * validator, the model), and what it forwards: the clamped `max_completion_tokens` and the forced streaming
 * options, as recorded by the fake GPU node.
 */
import { describe, expect, it } from 'vitest'
import { CHAT_LIMITS } from '../../shared/chat-request.ts'
import { dataUrl, makePng } from './media/support/fixtures.ts'
import { callEdge, chatBody, chatRequest, recordedRequest } from './support/edge-client.ts'
import { SCENARIOS, TEST_API_KEY } from './support/scenarios.ts'

const CONTEXT = 32_768
const BYTES_PER_TOKEN = 48

/** The error body every refusal must have: all four OpenAI keys. */
function openAIError(code: string | null, param: string | null) {
  return {
    error: { message: expect.any(String), type: 'invalid_request_error', param, code },
  }
}

const user = (content: unknown) => ({
  model: 'gemma-3n-e2b-it',
  messages: [{ role: 'user', content }],
})

describe('refusals before validation', () => {
  it('answers invalid JSON with 400 invalid_json', async () => {
    const res = await callEdge(chatRequest('{"model": "gemma-3n-e2b-it", '))
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual(openAIError('invalid_json', null))
  })

  it.each([['text/plain'], ['application/x-www-form-urlencoded']])(
    'answers content-type %s with 415',
    async (type) => {
      const res = await callEdge(chatRequest(chatBody(SCENARIOS.normal), { 'content-type': type }))
      expect(res.status).toBe(415)
      expect(await res.json()).toEqual(openAIError('unsupported_media_type', null))
    },
  )

  it('answers a body over the limit with 413 (declared content-length)', async () => {
    const res = await callEdge(chatRequest('x'.repeat(CHAT_LIMITS.maxBodyBytes + 1)))
    expect(res.status).toBe(413)
    expect(await res.json()).toEqual(openAIError('payload_too_large', null))
  })

  it('answers a body over the limit with 413 when no length is declared', async () => {
    const piece = new Uint8Array(1024 * 1024).fill(0x20)
    let sent = 0
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        sent += piece.byteLength
        controller.enqueue(piece)
        if (sent > CHAT_LIMITS.maxBodyBytes) controller.close()
      },
    })
    const res = await callEdge('/v1/chat/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
      body,
    })
    expect(res.status).toBe(413)
  })
})

describe('the shared validator', () => {
  it.each([
    ['a non-object body', [1, 2], null, 'invalid_type'],
    [
      'messages of the wrong type',
      { model: 'gemma-3n-e2b-it', messages: 'hi' },
      'messages',
      'invalid_type',
    ],
    [
      'a temperature of the wrong type',
      { ...user('hi'), temperature: 'hot' },
      'temperature',
      'invalid_type',
    ],
    ['empty messages', { model: 'gemma-3n-e2b-it', messages: [] }, 'messages', 'invalid_value'],
    [
      'an unknown role',
      { model: 'gemma-3n-e2b-it', messages: [{ role: 'robot', content: 'hi' }] },
      'messages[0].role',
      'invalid_value',
    ],
    [
      'an unknown part type',
      user([{ type: 'video', video: {} }]),
      'messages[0].content[0].type',
      'invalid_value',
    ],
    ['max_tokens 0', { ...user('hi'), max_tokens: 0 }, 'max_tokens', 'invalid_value'],
    [
      'negative max_completion_tokens',
      { ...user('hi'), max_completion_tokens: -5 },
      'max_completion_tokens',
      'invalid_value',
    ],
    [
      'a missing model',
      { messages: [{ role: 'user', content: 'hi' }] },
      'model',
      'missing_required_parameter',
    ],
  ])(
    'refuses %s with 400 naming the param, coded as OpenAI does',
    async (_what, body, param, code) => {
      const res = await callEdge(chatRequest(body))
      expect(res.status).toBe(400)
      expect(await res.json()).toEqual(openAIError(code, param))
    },
  )

  it('refuses an unsupported n with unsupported_parameter', async () => {
    const res = await callEdge(chatRequest({ ...user('hi'), n: 2 }))
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual(openAIError('unsupported_parameter', 'n'))
  })

  it('refuses a conversation the assistant opens, before any budget or node', async () => {
    const messages = [
      { role: 'system', content: 'Be brief.' },
      { role: 'assistant', content: 'Hi! How can I help?' },
      { role: 'user', content: 'Hello' },
    ]
    const res = await callEdge(
      chatRequest({ ...user('x'), messages }, { 'x-request-id': 'model-first-1' }),
    )
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual(openAIError('invalid_value', 'messages[1].role'))
    await expect(recordedRequest('model-first-1')).rejects.toThrow(/HTTP 404/)
  })

  it('answers an unknown model with 404 model_not_found', async () => {
    const res = await callEdge(chatRequest({ ...user('hi'), model: 'gpt-4o' }))
    expect(res.status).toBe(404)
    expect(await res.json()).toEqual(openAIError('model_not_found', 'model'))
  })
})

describe('what reaches the GPU node', () => {
  async function forwarded(id: string, body: unknown) {
    const res = await callEdge(chatRequest(body, { 'x-request-id': id }))
    expect(res.status).toBe(200)
    await res.arrayBuffer()
    return recordedRequest(id)
  }

  it("forces streaming with usage, clamps max_tokens, and keeps the client's other fields", async () => {
    const content = 'Say hello, in a few words.'
    const body = {
      ...user(content),
      model: 'gemma-3n-E2B-it',
      max_tokens: 1_000_000,
      temperature: 0.5,
      user: 'end-user-7',
      metadata: { app: 'x' },
    }
    const recorded = await forwarded('fwd-basic', body)
    expect(recorded.authorized).toBe(true)
    expect(recorded.tenant).toMatch(/^ten_/)
    const lowerBound = 1 + Math.ceil(new TextEncoder().encode(content).length / BYTES_PER_TOKEN)
    expect(recorded.body).toEqual({
      model: 'gemma-3n-e2b-it',
      messages: body.messages,
      temperature: 0.5,
      user: 'end-user-7',
      metadata: { app: 'x' },
      stream: true,
      stream_options: { include_usage: true },
      max_completion_tokens: CONTEXT - lowerBound,
    })
  })

  it('keeps a max_completion_tokens that fits and prefers it over max_tokens', async () => {
    const recorded = await forwarded('fwd-fits', {
      ...user('hi'),
      max_completion_tokens: 50,
      max_tokens: 70,
    })
    expect(recorded.body.max_completion_tokens).toBe(50)
    expect(recorded.body).not.toHaveProperty('max_tokens')
  })

  it('clamps to the context minus a lower bound of a long prompt', async () => {
    const recorded = await forwarded('fwd-long', {
      ...user('x'.repeat(BYTES_PER_TOKEN * 32_000)),
      max_completion_tokens: 1_000,
    })
    expect(recorded.body.max_completion_tokens).toBe(CONTEXT - 1 - 32_000)
  })

  it('counts each image as its 256 soft tokens plus two markers', async () => {
    // A real image: the edge decodes and shapes it (worker/media) before forwarding.
    const png = await makePng(8, 8, () => [0, 128, 255])
    const parts = [
      { type: 'text', text: 'hi' },
      { type: 'image_url', image_url: { url: dataUrl('image/png', png) } },
    ]
    const recorded = await forwarded('fwd-image', user(parts))
    expect(recorded.body.max_completion_tokens).toBe(CONTEXT - 1 - 1 - 258)
  })

  it('refuses a prompt that alone fills the context', async () => {
    const res = await callEdge(chatRequest(user('x'.repeat(BYTES_PER_TOKEN * 32_767))))
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual(openAIError('context_length_exceeded', 'messages'))
  })
})
