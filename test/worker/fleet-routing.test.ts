/**
 * @module
 * Routing across GPU nodes through the worker's real entry, with two scripted nodes and a dead port:
 * signed requests that ask for continuous usage, load spread over equal nodes, retry on another node
 * before the first byte (connect failure, 503, a refused signature), the circuit breaker, the deadline on a hung node, and
 * exact charging of a stream whose node dies mid-way.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, inject, it, vi } from 'vitest'
import type { NodeStatus } from '../../worker/durable-objects/node-registry.ts'
import type { Bindings } from '../../worker/env.ts'
import app from '../../worker/index.ts'
import { DEFAULT_POLICY } from '../../worker/routing/fleet-config.ts'
import { staticNodes } from '../../worker/routing/fleet-config.ts'
import { chatWith, createTenantWithKey, usageRecords } from './support/admin-client.ts'
import {
  chatBody,
  chatRequest,
  recordedRequest,
  sseFrames,
  waitForNodeAbort,
  withTimeout,
} from './support/edge-client.ts'
import type { Scenario } from './support/scenarios.ts'
import { NORMAL_USAGE, SCENARIOS } from './support/scenarios.ts'

const first = () => `a=http://127.0.0.1:${inject('fakeNodePort')}`
const second = () => `b=http://127.0.0.1:${inject('secondNodePort')}`
const dead = () => `dead=http://127.0.0.1:${inject('deadNodePort')}`

/** Calls the app with other bindings; reads the whole body before waiting for `waitUntil` work. */
async function callWith(request: Request, bindings: Partial<Bindings>) {
  const ctx = createExecutionContext()
  const response = await app.fetch(request, { ...env, ...bindings }, ctx)
  const text = await withTimeout(response.text(), 10_000, 'response body')
  await withTimeout(waitOnExecutionContext(ctx), 10_000, 'waitUntil work')
  return { response, text }
}

const chat = (scenario: Scenario = SCENARIOS.normal, extra: Record<string, unknown> = {}) =>
  chatRequest(chatBody(scenario, extra))

async function registryStatus(gpuNodes: string): Promise<NodeStatus[]> {
  const nodes = staticNodes(gpuNodes)
  return env.NODE_REGISTRY.getByName('fleet').status({ nodes, policy: DEFAULT_POLICY })
}

describe('requests to nodes', () => {
  it('are signed, ask for continuous usage, and name the node that served them', async () => {
    const id = 'fleet-signed-1'
    const request = chatRequest(chatBody(SCENARIOS.normal, { stream: true }), {
      'x-request-id': id,
    })
    const { response, text } = await callWith(request, { GPU_NODES: first() })
    expect(response.headers.get('x-gemma-node')).toBe('a')
    expect(await recordedRequest(id)).toMatchObject({ authorized: true, continuousUsage: true })
    // The running usage the node put on every chunk never reaches a client that did not ask for usage.
    expect(text).not.toContain('usage')
  })

  it('are refused by a node that does not know the secret (502, no secret shown)', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined)
    const { response, text } = await callWith(chat(), {
      GPU_NODES: first(),
      GPU_NODE_SECRET: 'another-secret',
    })
    expect(response.status).toBe(502)
    expect(text).not.toContain('another-secret')
    vi.restoreAllMocks()
  })
})

describe('load spreading', () => {
  it('sends consecutive requests to equal nodes in turn', async () => {
    const served: (string | null)[] = []
    for (let i = 0; i < 4; i++) {
      const { response } = await callWith(chat(), { GPU_NODES: `${first()},${second()}` })
      expect(response.status).toBe(200)
      served.push(response.headers.get('x-gemma-node'))
    }
    expect(served.filter((node) => node === 'a')).toHaveLength(2)
    expect(served.filter((node) => node === 'b')).toHaveLength(2)
  })
})

describe('failover before the first byte', () => {
  it('retries on another node when one cannot be reached, then opens its breaker', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    const gpuNodes = `${dead()},${first()}`
    for (let i = 0; i < 2 * DEFAULT_POLICY.breakerFailures; i++) {
      const { response } = await callWith(chat(), { GPU_NODES: gpuNodes })
      expect(response.status).toBe(200)
      expect(response.headers.get('x-gemma-node')).toBe('a')
    }
    const deadNode = (await registryStatus(gpuNodes)).find((node) => node.id === 'dead')
    expect(deadNode?.breaker).toBe('open')
    // With its breaker open, the dead node is not even tried: no node is left.
    const none = await callWith(chat(), { GPU_NODES: dead() })
    expect(none.response.status).toBe(503)
    expect(none.response.headers.get('retry-after')).toBe('1')
    expect(JSON.parse(none.text).error.code).toBe('no_gpu_node_available')
    vi.restoreAllMocks()
  })

  it("retries on another node when one refuses the edge's signature, then opens its breaker", async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    vi.spyOn(console, 'error').mockImplementation(() => undefined)
    // Node `wrong` is the second scripted node, given a secret it does not hold (a rotation half done).
    const misconfigured = `wrong=http://127.0.0.1:${inject('secondNodePort')}`
    const bindings = {
      GPU_NODES: `${misconfigured},${first()}`,
      GPU_NODE_SECRETS: JSON.stringify({ wrong: 'a-secret-the-node-does-not-hold' }),
    }
    for (let i = 0; i < 2 * DEFAULT_POLICY.breakerFailures; i++) {
      const { response } = await callWith(chat(), bindings)
      expect(response.status).toBe(200)
      expect(response.headers.get('x-gemma-node')).toBe('a')
    }
    const status = await registryStatus(bindings.GPU_NODES)
    expect(status.find((node) => node.id === 'wrong')?.breaker).toBe('open')
    vi.restoreAllMocks()
  })

  it('passes the last 503 through when every node is busy', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    const busy = await callWith(chat(SCENARIOS.overloaded), { GPU_NODES: `${first()},${second()}` })
    expect(busy.response.status).toBe(503)
    expect(busy.response.headers.get('retry-after')).toBe('2')
    expect(JSON.parse(busy.text).error.code).toBe('overloaded')
    vi.restoreAllMocks()
  })

  it('gives up on a hung node at the deadline, with a 504, and closes the connection', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    const id = 'fleet-hang-1'
    const request = chatRequest(chatBody(SCENARIOS.hang, { stream: true }), { 'x-request-id': id })
    const { response, text } = await callWith(request, {
      GPU_NODES: `${first()},${second()}`,
      GPU_ROUTE_ATTEMPT_TIMEOUT_MS: '300',
      GPU_ROUTE_DEADLINE_MS: '500',
    })
    expect(response.status).toBe(504)
    expect(JSON.parse(text).error).toMatchObject({ code: 'upstream_timeout', type: 'server_error' })
    await waitForNodeAbort(id)
    vi.restoreAllMocks()
  })
})

describe('a node that dies mid-stream', () => {
  it('gives the client an error frame and [DONE], and charges exactly the tokens generated', async () => {
    const { tenantId, key } = await createTenantWithKey()
    const request = chatWith(key.key, chatBody(SCENARIOS.crash, { stream: true }))
    const { response, text } = await callWith(request, { GPU_NODES: first() })
    expect(response.status).toBe(200)
    const frames = sseFrames(text)
    expect(JSON.parse(frames.at(-2)!.slice('data: '.length)).error.code).toBe('upstream_error')
    expect(frames.at(-1)).toBe('data: [DONE]')
    const [record] = await usageRecords(tenantId, 1)
    // The fake node reported one completion token before its socket was destroyed.
    expect(record).toMatchObject({
      outcome: 'cut',
      usage_source: 'node',
      prompt_tokens: NORMAL_USAGE.prompt_tokens,
      completion_tokens: 1,
    })
  })

  it('charges a non-streaming request the same way', async () => {
    const { tenantId, key } = await createTenantWithKey()
    const { response } = await callWith(chatWith(key.key, chatBody(SCENARIOS.crash)), {
      GPU_NODES: first(),
    })
    expect(response.status).toBe(502)
    const [record] = await usageRecords(tenantId, 1)
    expect(record).toMatchObject({ usage_source: 'node', completion_tokens: 1 })
  })
})

describe('a request refused by its budget', () => {
  it('returns the node lease taken while the budget was checked', async () => {
    const { key } = await createTenantWithKey({ daily_tokens: 0 })
    const nodes = `leasecheck=http://127.0.0.1:${inject('fakeNodePort')}`
    const { response } = await callWith(
      chatRequest(chatBody(SCENARIOS.normal), { authorization: `Bearer ${key.key}` }),
      { GPU_NODES: nodes },
    )
    expect(response.status).toBe(429)
    const [node] = await registryStatus(nodes)
    expect(node).toMatchObject({ id: 'leasecheck', load: 0 })
  })
})
