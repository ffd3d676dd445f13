/**
 * @module
 * The node's answer as the client sees it: the SSE relay byte for byte, the non-streaming aggregation, node
 * errors before and after the first byte, a node that dies mid-stream, an unreachable node, the per-request
 * log line, and a client disconnect reaching the node.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { afterEach, describe, expect, inject, it, vi } from 'vitest'
import type { MockInstance } from 'vitest'
import app from '../../worker/index.ts'
import {
  callEdge,
  chatBody,
  chatRequest,
  sseFrames,
  waitForNodeAbort,
  withTimeout,
} from './support/edge-client.ts'
import type { Scenario } from './support/scenarios.ts'
import {
  BAD_REQUEST_ERROR,
  CHUNK_HEAD,
  NODE_ERROR,
  NORMAL_TEXT,
  NORMAL_USAGE,
  OVERLOADED_ERROR,
  SCENARIOS,
  USAGE_CHUNK,
  nodeChunk,
  runningUsage,
  withoutUsage,
} from './support/scenarios.ts'

const DONE = 'data: [DONE]'
const data = (payload: unknown) => `data: ${JSON.stringify(payload)}`
const clientChunk = (delta: object, finish: string | null = null) =>
  withoutUsage(nodeChunk(delta, finish))
const upstreamErrorFrame = {
  error: {
    message: expect.any(String),
    type: 'server_error',
    param: null,
    code: 'upstream_error',
  },
}

async function streamFrames(scenario: Scenario, extra: Record<string, unknown> = {}) {
  const res = await callEdge(chatRequest(chatBody(scenario, { stream: true, ...extra })))
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toBe('text/event-stream')
  expect(res.headers.get('cache-control')).toBe('no-cache')
  return sseFrames(await withTimeout(res.text(), 5_000, 'stream body'))
}

afterEach(() => {
  vi.restoreAllMocks()
})

/** The usage record of request `id` in D1, once the tenant's Durable Object has flushed it. */
function usageRecord(id: string): Promise<Record<string, unknown> & { completion_tokens: number }> {
  const find = async () => {
    for (;;) {
      const { results } = await env.DB.prepare(
        'SELECT status, outcome, completion_tokens FROM usage_records WHERE request_id = ?',
      )
        .bind(id)
        .all<Record<string, unknown> & { completion_tokens: number }>()
      if (results.length > 1) throw new Error(`${results.length} usage records for ${id}`)
      if (results[0]) return results[0]
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  return withTimeout(find(), 5_000, 'usage record')
}

/** The request log line of request `id`, once it is written (streams write theirs when they end). */
function requestLogLine(log: MockInstance<typeof console.log>, id: string): Promise<string> {
  const line = async () => {
    for (;;) {
      const hit = log.mock.calls.map(([text]) => String(text)).find((t) => t.includes(id))
      if (hit) return hit
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
  return withTimeout(line(), 5_000, 'request log line')
}

describe('streaming relay', () => {
  it('relays frames and keep-alives, without usage when the client did not ask', async () => {
    expect(await streamFrames(SCENARIOS.normal)).toEqual([
      ': keep-alive',
      data(clientChunk({ role: 'assistant', content: '' })),
      ...NORMAL_TEXT.map((text) => data(clientChunk({ content: text }))),
      data(clientChunk({}, 'stop')),
      DONE,
    ])
  })

  it("passes the node's frames through unchanged when the client asked for usage", async () => {
    const frames = await streamFrames(SCENARIOS.normal, { stream_options: { include_usage: true } })
    expect(frames).toEqual([
      ': keep-alive',
      data(nodeChunk({ role: 'assistant', content: '' })),
      ...NORMAL_TEXT.map((text) => data(nodeChunk({ content: text }))),
      data(nodeChunk({}, 'stop')),
      data(USAGE_CHUNK),
      DONE,
    ])
  })

  it('forwards a node error frame through the translator, then ends with [DONE]', async () => {
    const frames = await streamFrames(SCENARIOS.errorMidStream)
    expect(frames.slice(-2)).toEqual([data(NODE_ERROR), DONE])
    expect(frames.filter((frame) => frame === DONE)).toHaveLength(1)
  })

  it.each([
    ['ends without [DONE]', SCENARIOS.cut],
    ['dies (socket destroyed)', SCENARIOS.crash],
  ])('closes with an upstream_error frame and [DONE] when the node %s', async (_what, scenario) => {
    const frames = await streamFrames(scenario)
    expect(frames.at(-3)).toBe(data(clientChunk({ content: 'Hel' })))
    expect(JSON.parse(frames.at(-2)?.slice('data: '.length) ?? '')).toEqual(upstreamErrorFrame)
    expect(frames.at(-1)).toBe(DONE)
  })

  it.each([
    ['reports an error', SCENARIOS.errorMidStream],
    ['ends without [DONE]', SCENARIOS.cut],
  ])(
    'sends the usage so far before the error when the client asked for usage and the node %s',
    async (_what, scenario) => {
      const frames = await streamFrames(scenario, { stream_options: { include_usage: true } })
      // One token was generated ('Hel'): the usage-only chunk says so, then the error, then [DONE].
      expect(frames.at(-4)).toBe(data(nodeChunk({ content: 'Hel' })))
      expect(frames.at(-3)).toBe(
        data({ ...withoutUsage(nodeChunk({})), choices: [], usage: runningUsage(1) }),
      )
      expect(frames.at(-2)).toMatch(/^data: \{"error":/)
      expect(frames.at(-1)).toBe(DONE)
    },
  )

  it('logs one line with the exact usage and no key once the stream ends', async () => {
    const log = vi.spyOn(console, 'log')
    const id = 'log-line-1'
    const res = await callEdge(
      chatRequest(chatBody(SCENARIOS.normal, { stream: true }), { 'x-request-id': id }),
    )
    await res.text()
    const text = await requestLogLine(log, id)
    expect(JSON.parse(text)).toMatchObject({
      request_id: id,
      tenant_id: expect.stringMatching(/^ten_/),
      status: 200,
      ending: 'done',
      prompt_tokens: NORMAL_USAGE.prompt_tokens,
      completion_tokens: NORMAL_USAGE.completion_tokens,
      ms: expect.any(Number),
    })
    expect(text).not.toContain('test-key')
  })
})

describe('non-streaming clients', () => {
  it('get one ChatCompletion built from the stream', async () => {
    const res = await callEdge(chatRequest(chatBody(SCENARIOS.normal)))
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({
      id: CHUNK_HEAD.id,
      object: 'chat.completion',
      created: CHUNK_HEAD.created,
      model: CHUNK_HEAD.model,
      system_fingerprint: CHUNK_HEAD.system_fingerprint,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: NORMAL_TEXT.join(''), refusal: null },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage: NORMAL_USAGE,
    })
  })

  it("get a node error frame as that error's status and body", async () => {
    const res = await callEdge(chatRequest(chatBody(SCENARIOS.errorMidStream)))
    expect(res.status).toBe(500)
    expect(await res.json()).toEqual(NODE_ERROR)
  })

  it.each([[SCENARIOS.cut], [SCENARIOS.crash]])('get a 502 for a %s stream', async (scenario) => {
    const res = await callEdge(chatRequest(chatBody(scenario)))
    expect(res.status).toBe(502)
    expect(await res.json()).toEqual(upstreamErrorFrame)
  })
})

describe('node refusals before the first byte', () => {
  it.each([[false], [true]])('pass a node 400 through (stream: %s)', async (stream) => {
    const res = await callEdge(chatRequest(chatBody(SCENARIOS.badRequest, { stream })))
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual(BAD_REQUEST_ERROR)
  })

  it('pass a node 503 through with its retry headers', async () => {
    const res = await callEdge(chatRequest(chatBody(SCENARIOS.overloaded, { stream: true })))
    expect(res.status).toBe(503)
    expect(res.headers.get('retry-after')).toBe('2')
    expect(res.headers.get('retry-after-ms')).toBe('2000')
    expect(await res.json()).toEqual(OVERLOADED_ERROR)
  })

  it('turn a node 401 (edge misconfigured) into a 502 that does not show the secret', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined)
    const res = await callEdge(chatRequest(chatBody(SCENARIOS.unauthorized)))
    const text = await res.text()
    expect(res.status).toBe(502)
    expect(JSON.parse(text)).toEqual(upstreamErrorFrame)
    expect(text).not.toContain('node-secret')
  })

  it('turn a node 500 into a 502', async () => {
    const res = await callEdge(chatRequest(chatBody(SCENARIOS.serverError)))
    expect(res.status).toBe(502)
    expect(await res.json()).toEqual(upstreamErrorFrame)
  })

  it('answer an unreachable node with 502 and retry headers', async () => {
    const ctx = createExecutionContext()
    const dead = { ...env, GPU_NODES: `http://127.0.0.1:${inject('deadNodePort')}` }
    const res = await app.fetch(
      chatRequest(chatBody(SCENARIOS.normal, { stream: true })),
      dead,
      ctx,
    )
    await waitOnExecutionContext(ctx)
    expect(res.status).toBe(502)
    expect(res.headers.get('retry-after')).toBe('1')
    expect(res.headers.get('retry-after-ms')).toBe('1000')
    expect(await res.json()).toEqual(upstreamErrorFrame)
  })
})

describe('client disconnect', () => {
  it('closes the connection to the node', async () => {
    const id = 'abort-slow-1'
    const res = await callEdge(
      chatRequest(chatBody(SCENARIOS.slow, { stream: true }), { 'x-request-id': id }),
    )
    const reader = res.body!.getReader()
    const first = await withTimeout(reader.read(), 5_000, 'first bytes')
    expect(first.done).toBe(false)
    await reader.cancel()
    await waitForNodeAbort(id)
  })

  // The runtime reports a client that left through the request's signal (`enable_request_signal`): the
  // only sign a non-streaming client gives, and for a stream it may come before the body is cancelled.
  it('stops the node for a non-streaming client that leaves, charging what was generated', async () => {
    const log = vi.spyOn(console, 'log')
    const id = 'abort-slow-2'
    const client = new AbortController()
    const request = new Request(chatRequest(chatBody(SCENARIOS.slow), { 'x-request-id': id }), {
      signal: client.signal,
    })
    const ctx = createExecutionContext()
    const pending = app.fetch(request, env, ctx)
    await new Promise((resolve) => setTimeout(resolve, 300)) // a few of the node's chunks
    client.abort()
    const res = await withTimeout(Promise.resolve(pending), 5_000, 'edge answer')
    expect(res.status).toBe(499)
    await waitForNodeAbort(id)
    await waitOnExecutionContext(ctx)
    const line = JSON.parse(await requestLogLine(log, id))
    expect(line).toMatchObject({ status: 499, ending: 'cancelled' })
    expect(line.completion_tokens).toBeGreaterThan(0)
    // Settled once, with what the node reported generating: the record the tenant is billed by.
    const record = await usageRecord(id)
    expect(record).toMatchObject({ status: 499, outcome: 'cancelled' })
    expect(record.completion_tokens).toBe(line.completion_tokens)
  })

  it('ends a stream as cancelled, not as a node failure, when the signal comes first', async () => {
    const log = vi.spyOn(console, 'log')
    const id = 'abort-slow-3'
    const client = new AbortController()
    const request = new Request(
      chatRequest(chatBody(SCENARIOS.slow, { stream: true }), { 'x-request-id': id }),
      { signal: client.signal },
    )
    const ctx = createExecutionContext()
    const res = await app.fetch(request, env, ctx)
    const reader = res.body!.getReader()
    for (let i = 0; i < 3; i++) {
      expect((await withTimeout(reader.read(), 5_000, 'a chunk')).done).toBe(false)
    }
    client.abort()
    await waitForNodeAbort(id)
    await waitOnExecutionContext(ctx)
    const line = JSON.parse(await requestLogLine(log, id))
    expect(line).toMatchObject({ status: 200, ending: 'cancelled' })
    expect(line.completion_tokens).toBeGreaterThan(0)
  })
})
