/**
 * End to end as a user runs it: a GPU node process on the default contract model (262,400-token vocabulary)
 * and the worker in `wrangler dev`, driven by the official `openai` npm client.
 */
import type { APIError } from 'openai'
import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startStack } from '../support/stack.ts'
import type { Stack } from '../support/stack.ts'

let stack: Stack
let client: OpenAI

beforeAll(async () => {
  stack = await startStack()
  client = new OpenAI({ baseURL: `${stack.workerUrl}/v1`, apiKey: stack.apiKey, maxRetries: 0 })
})
afterAll(async () => stack?.stop())

const MODEL = 'gemma-3n-e2b-it'
const messages = [
  { role: 'system' as const, content: 'You are terse.' },
  { role: 'user' as const, content: 'Name three colours.' },
]

async function nodeRunning(): Promise<number> {
  const health = (await (await fetch(`${stack.nodeUrl}/health`)).json()) as {
    load: { running: number }
  }
  return health.load.running
}

describe('the stack through the official OpenAI client', () => {
  it('lists and retrieves the model', async () => {
    const listed = []
    for await (const card of client.models.list()) listed.push(card)
    expect(listed.map((card) => card.id)).toEqual([MODEL])
    expect((await client.models.retrieve(MODEL)).id).toBe(MODEL)
    const missing = await client.models.retrieve('gpt-4o').catch((e: unknown) => e)
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError)
  })

  it('completes without streaming, with exact usage', async () => {
    const completion = await client.chat.completions.create({
      model: MODEL,
      messages,
      max_completion_tokens: 16,
      temperature: 0,
    })
    expect(completion.object).toBe('chat.completion')
    expect(completion._request_id).toMatch(/^req_/)
    const usage = completion.usage!
    expect(usage.completion_tokens).toBeGreaterThan(0)
    expect(usage.completion_tokens).toBeLessThanOrEqual(16)
    expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens)
  })

  it('streams the same greedy text, with the usage chunk when asked', async () => {
    const whole = await client.chat.completions.create({
      model: MODEL,
      messages,
      max_tokens: 16,
      temperature: 0,
    })
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages,
      max_tokens: 16,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    })
    let text = ''
    let usage: OpenAI.CompletionUsage | null | undefined
    let finish: string | null = null
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? ''
      finish = chunk.choices[0]?.finish_reason ?? finish
      if (chunk.usage) usage = chunk.usage
    }
    expect(text).toBe(whole.choices[0]!.message.content)
    expect(finish).toBe(whole.choices[0]!.finish_reason)
    expect(usage).toMatchObject({
      prompt_tokens: whole.usage!.prompt_tokens,
      completion_tokens: whole.usage!.completion_tokens,
    })
  })

  it('raises AuthenticationError for a bad key, without echoing it', async () => {
    const bad = new OpenAI({
      baseURL: `${stack.workerUrl}/v1`,
      apiKey: 'sk-not-a-real-key-123',
      maxRetries: 0,
    })
    const error = await bad.chat.completions
      .create({ model: MODEL, messages })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError)
    expect((error as APIError).code).toBe('invalid_api_key')
    expect(JSON.stringify((error as APIError).error)).not.toContain('sk-not-a-real-key-123')
  })

  it('raises BadRequestError naming the field for a malformed body', async () => {
    const error = await client.chat.completions
      .create({ model: MODEL, messages: [{ role: 'user', content: [{ type: 'bogus' }] }] } as never)
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(OpenAI.BadRequestError)
    expect((error as APIError).param).toBe('messages[0].content[0].type')
  })

  it('frees the node slot when the client aborts mid-stream', async () => {
    const controller = new AbortController()
    const stream = await client.chat.completions.create(
      { model: MODEL, messages, max_tokens: 20_000, temperature: 1, stream: true },
      { signal: controller.signal },
    )
    let chunks = 0
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) chunks++
      if (chunks === 3) break // `break` aborts the request in the SDK
    }
    await expect.poll(nodeRunning, { timeout: 10_000, interval: 100 }).toBe(0)
    const after = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 4 })
    expect(after.choices[0]!.finish_reason).toBeDefined()
  })
})
