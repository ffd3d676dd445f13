/**
 * @module
 * Request ids, authentication, unknown routes and methods, `/health` and `/v1/models`, through the worker's
 * real entry (`exports.default.fetch`) and a scripted GPU node.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, inject, it } from 'vitest'
import type { Bindings } from '../../worker/env.ts'
import app from '../../worker/index.ts'
import { EDGE, callEdge, chatBody, chatRequest } from './support/edge-client.ts'
import { SCENARIOS, TEST_API_KEY } from './support/scenarios.ts'

const auth = { authorization: `Bearer ${TEST_API_KEY}` }

/** Calls the app with the bindings changed (e.g. no reachable node), as the runtime would. */
async function callWithEnv(path: string, bindings: Partial<Bindings>, init: RequestInit = {}) {
  const ctx = createExecutionContext()
  const response = await app.fetch(
    new Request(`${EDGE}${path}`, init),
    { ...env, ...bindings },
    ctx,
  )
  await waitOnExecutionContext(ctx)
  return response
}

const deadNode = () => `http://127.0.0.1:${inject('deadNodePort')}`

describe('x-request-id', () => {
  it('echoes a well-formed client id and exposes the header', async () => {
    const res = await callEdge('/health', { headers: { 'x-request-id': 'client.id:42-a_b' } })
    expect(res.headers.get('x-request-id')).toBe('client.id:42-a_b')
    expect(res.headers.get('access-control-expose-headers')).toBe('x-request-id')
  })

  it.each([
    ['has spaces', 'bad id'],
    ['is too long', 'a'.repeat(129)],
    ['has a slash', 'a/b'],
  ])('replaces a client id that %s with req_<32 hex>', async (_what, id) => {
    const res = await callEdge('/health', { headers: { 'x-request-id': id } })
    expect(res.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{32}$/)
  })

  it('generates distinct ids and puts them on error responses too', async () => {
    const [a, b] = await Promise.all([callEdge('/nope'), callEdge('/nope')])
    expect(a.status).toBe(404)
    expect(a.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{32}$/)
    expect(a.headers.get('x-request-id')).not.toBe(b.headers.get('x-request-id'))
  })
})

describe('authentication', () => {
  it.each([
    ['an empty header', { authorization: '' }],
    ['another scheme', { authorization: `Basic ${TEST_API_KEY}` }],
    ['an empty bearer', { authorization: 'Bearer ' }],
    ['a wrong key', { authorization: 'Bearer wrong-key-123' }],
    ['a key with the right prefix', { authorization: `Bearer ${TEST_API_KEY}x` }],
  ])('refuses %s with 401 invalid_api_key and never echoes the key', async (_what, headers) => {
    const res = await callEdge(chatRequest(chatBody(SCENARIOS.normal), headers))
    const text = await res.text()
    expect(res.status).toBe(401)
    expect(JSON.parse(text)).toEqual({
      error: {
        message: expect.any(String),
        type: 'invalid_request_error',
        param: null,
        code: 'invalid_api_key',
      },
    })
    expect(text).not.toContain('wrong-key-123')
    expect(text).not.toContain(TEST_API_KEY)
  })

  it('refuses a request without an Authorization header', async () => {
    const res = await callEdge('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(chatBody(SCENARIOS.normal)),
    })
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_api_key' } })
  })

  it('protects /v1/models', async () => {
    expect((await callEdge('/v1/models')).status).toBe(401)
  })
})

describe('routes', () => {
  it('answers an unknown route with an OpenAI-shaped 404', async () => {
    const res = await callEdge('/v1/embeddings', { method: 'POST', headers: auth })
    expect(res.status).toBe(404)
    expect(await res.json()).toMatchObject({ error: { code: 'not_found', param: null } })
  })

  it.each([
    ['GET', '/v1/chat/completions', 'POST'],
    ['DELETE', '/v1/models', 'GET, HEAD'],
    ['DELETE', '/v1/models/gemma-3n-e2b-it', 'GET, HEAD'],
    ['POST', '/health', 'GET, HEAD'],
  ])('answers %s %s with 405 and allow: %s', async (method, path, allow) => {
    const res = await callEdge(path, { method, headers: auth })
    expect(res.status).toBe(405)
    expect(res.headers.get('allow')).toBe(allow)
    expect(await res.json()).toMatchObject({ error: { code: 'method_not_allowed' } })
  })
})

describe('GET /health', () => {
  it('reports healthy nodes and the model block without node URLs or secrets', async () => {
    const res = await callEdge('/health')
    const text = await res.text()
    expect(res.status).toBe(200)
    expect(JSON.parse(text)).toMatchObject({
      status: 'ok',
      nodes: { healthy: 1, total: 1 },
      model: { id: 'gemma-3n-e2b-it', contract_model: true },
    })
    expect(text).not.toContain('127.0.0.1')
    expect(text).not.toContain('node-secret')
  })

  it('counts only the nodes that answer', async () => {
    const res = await callWithEnv('/health', { GPU_NODES: `${deadNode()}, ${env.GPU_NODES}` })
    expect(await res.json()).toEqual({
      status: 'ok',
      nodes: { healthy: 1, total: 2 },
      model: expect.objectContaining({ contract_model: true }),
    })
  })

  it('is degraded when no node answers', async () => {
    const down = await callWithEnv('/health', { GPU_NODES: deadNode() })
    expect(await down.json()).toEqual({
      status: 'degraded',
      nodes: { healthy: 0, total: 1 },
      model: null,
    })
  })
})

describe('GET /v1/models', () => {
  it('lists the model with what the node says about its weights', async () => {
    const res = await callEdge('/v1/models', { headers: auth })
    expect(await res.json()).toEqual({
      object: 'list',
      data: [
        {
          id: 'gemma-3n-e2b-it',
          object: 'model',
          created: expect.any(Number),
          owned_by: 'google',
          gemma_edge: {
            contract_model: true,
            note: 'random weights (contract model)',
            context_length: 32_768,
          },
        },
      ],
    })
  })

  it('retrieves the model by id, in any case, and 404s any other id', async () => {
    const listed = await (
      await callEdge('/v1/models', { headers: auth })
    ).json<{ data: unknown[] }>()
    for (const id of ['gemma-3n-e2b-it', 'gemma-3n-E2B-it']) {
      const res = await callEdge(`/v1/models/${id}`, { headers: auth })
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual(listed.data[0])
    }
    const unknown = await callEdge('/v1/models/gpt-4o', { headers: auth })
    expect(unknown.status).toBe(404)
    expect(await unknown.json()).toMatchObject({
      error: { type: 'invalid_request_error', code: 'model_not_found', param: 'model' },
    })
  })

  it('omits the gemma_edge block when no node answers', async () => {
    const res = await callWithEnv('/v1/models', { GPU_NODES: deadNode() }, { headers: auth })
    const body = await res.json<{ data: Record<string, unknown>[] }>()
    expect(res.status).toBe(200)
    expect(body.data[0]?.id).toBe('gemma-3n-e2b-it')
    expect(body.data[0]).not.toHaveProperty('gemma_edge')
  })
})
