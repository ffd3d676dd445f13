/**
 * @module
 * Nodes joining the fleet by signed heartbeats (`POST /internal/nodes/heartbeat`), through the worker's
 * real entry: a registered node gets traffic without being in GPU_NODES; unsigned, forged, tampered,
 * replayed and malformed heartbeats are refused (and logged without secrets); a node whose heartbeats stop
 * drops out after the TTL and rejoins with its next heartbeat; a draining node gets no new work.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { afterEach, describe, expect, inject, it, vi } from 'vitest'
import { HEARTBEAT_PATH } from '../../shared/protocol.ts'
import type { NodeHeartbeat } from '../../shared/protocol.ts'
import { signRequest } from '../../shared/signing.ts'
import type { Bindings } from '../../worker/env.ts'
import app from '../../worker/index.ts'
import { EDGE, chatBody, chatRequest, withTimeout } from './support/edge-client.ts'
import { NODE_SECRET, SCENARIOS } from './support/scenarios.ts'

/** No static nodes: only what heartbeats registered. */
const ONLY_DYNAMIC: Partial<Bindings> = { GPU_NODES: '' }

async function callWith(request: Request, bindings: Partial<Bindings> = ONLY_DYNAMIC) {
  const ctx = createExecutionContext()
  const response = await app.fetch(request, { ...env, ...bindings }, ctx)
  const text = await withTimeout(response.text(), 10_000, 'response body')
  await waitOnExecutionContext(ctx)
  return { response, text }
}

function beat(extra: Partial<NodeHeartbeat> = {}): NodeHeartbeat {
  return {
    node_id: 'dyn-1',
    url: `http://127.0.0.1:${inject('secondNodePort')}`,
    max_running: 4,
    running: 0,
    queued: 0,
    free_kv_tokens: 10_000,
    model: { id: 'gemma-3n-e2b-it', dtype: 'fp32', contract_model: true },
    version: 'test',
    status: 'ok',
    ...extra,
  }
}

async function heartbeatRequest(body: string, secret = NODE_SECRET, sentBody = body) {
  const headers = await signRequest({ method: 'POST', path: HEARTBEAT_PATH, body, secret })
  return { headers, request: () => post(sentBody, headers) }
}

function post(body: string, headers: Record<string, string>) {
  return new Request(`${EDGE}${HEARTBEAT_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  })
}

async function send(payload: unknown) {
  const body = JSON.stringify(payload)
  return callWith((await heartbeatRequest(body)).request())
}

const health = async (bindings: Partial<Bindings> = ONLY_DYNAMIC) =>
  JSON.parse((await callWith(new Request(`${EDGE}/health`), bindings)).text) as {
    nodes: { healthy: number; total: number }
  }

afterEach(() => {
  vi.restoreAllMocks()
})

describe('signed heartbeats', () => {
  it('register a node that then serves requests', async () => {
    expect((await send(beat())).response.status).toBe(204)
    expect((await health()).nodes).toEqual({ healthy: 1, total: 1 })
    const { response } = await callWith(chatRequest(chatBody(SCENARIOS.normal)))
    expect(response.status).toBe(200)
    expect(response.headers.get('x-gemma-node')).toBe('dyn-1')
  })

  it('take a draining node out of rotation', async () => {
    expect((await send(beat({ status: 'draining' }))).response.status).toBe(204)
    vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    const { response } = await callWith(chatRequest(chatBody(SCENARIOS.normal)))
    expect(response.status).toBe(503)
    expect((await send(beat())).response.status).toBe(204)
  })

  it('drop a node after the TTL, which rejoins with its next heartbeat', async () => {
    expect((await send(beat())).response.status).toBe(204)
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect((await health({ ...ONLY_DYNAMIC, GPU_NODE_TTL_MS: '10' })).nodes.total).toBe(0)
    expect((await send(beat())).response.status).toBe(204)
    expect((await health()).nodes).toEqual({ healthy: 1, total: 1 })
  })
})

describe('refused heartbeats', () => {
  it('refuse replays, tampering, forgeries and unsigned beats with 401, logged without secrets', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    const body = JSON.stringify(beat())
    const genuine = await heartbeatRequest(body)
    expect((await callWith(genuine.request())).response.status).toBe(204)
    const attempts: [string, Request][] = [
      ['a replay', genuine.request()],
      ['a tampered body', post(body.replace('"running":0', '"running":9'), genuine.headers)],
      ['a forged signature', (await heartbeatRequest(body, 'not-the-secret')).request()],
      ['no signature', post(body, {})],
    ]
    for (const [what, request] of attempts) {
      const { response, text } = await callWith(request)
      expect(response.status, what).toBe(401)
      expect(JSON.parse(text).error).toMatchObject({
        type: 'authentication_error',
        code: 'unauthorized',
        param: null,
      })
    }
    const logged = warn.mock.calls.map(([line]) => String(line)).join('\n')
    for (const reason of ['replay', 'digest', 'signature', 'missing']) {
      expect(logged).toContain(`"reason":"${reason}"`)
    }
    expect(logged).not.toContain(NODE_SECRET)
    expect(logged).not.toContain(genuine.headers['x-gemma-signature'])
  })

  it.each([
    ['not JSON', '{"node_id":'],
    ['a bad node id', JSON.stringify({ ...beat(), node_id: 'has spaces' })],
    ['a non-http URL', JSON.stringify({ ...beat(), url: 'file:///etc/passwd' })],
    ['a negative count', JSON.stringify({ ...beat(), running: -1 })],
    ['a missing field', JSON.stringify({ ...beat(), max_running: undefined })],
    ['an unknown field', JSON.stringify({ ...beat(), extra: 1 })],
  ])('refuse a signed beat with %s as 400', async (_what, body) => {
    vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    const { response, text } = await callWith((await heartbeatRequest(body)).request())
    expect(response.status).toBe(400)
    expect(JSON.parse(text).error.type).toBe('invalid_request_error')
  })

  it('refuse an oversized body before reading it', async () => {
    const body = JSON.stringify({ ...beat(), version: 'x'.repeat(5_000) })
    const { response } = await callWith((await heartbeatRequest(body)).request())
    expect(response.status).toBe(413)
  })
})
