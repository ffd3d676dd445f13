/**
 * The fleet end to end: three real GPU node processes (small contract model) that join the worker in
 * `wrangler dev` by signed heartbeats. Load spreads across them; a hung fleet hits the routing deadline and
 * a hung node is routed around; `kill -9` of a node mid-stream gives the client an error frame and
 * `[DONE]`, charges exactly the tokens generated, and the next requests succeed on the others; the node,
 * restarted, rejoins. Nodes refuse unsigned, replayed and tampered requests; the edge refuses malformed
 * heartbeats. The failover figures are printed (`[fleet]` lines) for the report.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAdminClient } from '../../scripts/lib/admin-client.ts'
import { ensureContractModel } from '../../gpu-node/contract-model/cache.ts'
import { HEARTBEAT_PATH } from '../../shared/protocol.ts'
import { signRequest } from '../../shared/signing.ts'
import { SSEDecoder } from '../../shared/sse.ts'
import { startFleet, waitForFleet } from '../support/stack.ts'
import type { Fleet } from '../support/stack.ts'

const ATTEMPT_TIMEOUT_MS = 2_000
let fleet: Fleet

beforeAll(async () => {
  const modelDir = await ensureContractModel({ vocab: 'small' })
  fleet = await startFleet({
    nodes: 3,
    nodeEnv: { GEMMA_MODEL_DIR: modelDir, GEMMA_THREADS: '1' },
    vars: {
      GPU_ROUTE_ATTEMPT_TIMEOUT_MS: String(ATTEMPT_TIMEOUT_MS),
      GPU_ROUTE_DEADLINE_MS: '8000',
      GPU_NODE_TTL_MS: '3000',
    },
  })
})
afterAll(async () => fleet?.stop())

const body = (extra: Record<string, unknown> = {}) => ({
  model: 'gemma-3n-e2b-it',
  messages: [{ role: 'user', content: 'Tell me a long story.' }],
  max_completion_tokens: 8,
  temperature: 1,
  seed: 5,
  ...extra,
})

function chat(payload: unknown, key = fleet.apiKey): Promise<Response> {
  return fetch(`${fleet.workerUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(payload),
  })
}

/** The `data` of each SSE event of a body, in order (pull with `next()` to pause between events). */
async function* events(response: Response): AsyncGenerator<string> {
  const reader = response.body!.getReader()
  const decoder = new TextDecoder()
  const sse = new SSEDecoder()
  for (;;) {
    const { done, value } = await reader.read()
    const batch = done ? sse.end() : sse.push(decoder.decode(value, { stream: true }))
    for (const event of batch) yield event.data
    if (done) return
  }
}

function signalNode(id: string, signal: NodeJS.Signals): void {
  process.kill(-fleet.nodes.get(id)!.service.child.pid!, signal)
}

async function nodeCount(): Promise<number> {
  const health = (await (await fetch(`${fleet.workerUrl}/health`)).json()) as {
    nodes: { total: number }
  }
  return health.nodes.total
}

describe('a fleet of three GPU nodes', () => {
  it('spreads concurrent streams across the nodes', async () => {
    const responses = await Promise.all(
      Array.from({ length: 6 }, (_, i) => chat(body({ stream: true, seed: i }))),
    )
    const served = new Set(responses.map((response) => response.headers.get('x-gemma-node')))
    for (const response of responses) {
      let last = ''
      for await (const data of events(response)) last = data
      expect(last).toBe('[DONE]')
    }
    expect(served).toEqual(new Set(['node-0', 'node-1', 'node-2']))
  })

  it('answers 504 when every node hangs past the deadline', async () => {
    for (const id of fleet.nodes.keys()) signalNode(id, 'SIGSTOP')
    try {
      const response = await chat(body())
      expect(response.status).toBe(504)
      expect(await response.json()).toMatchObject({ error: { code: 'upstream_timeout' } })
    } finally {
      for (const id of fleet.nodes.keys()) signalNode(id, 'SIGCONT')
    }
    await waitForFleet(fleet.workerUrl, 3)
  })

  it('routes around one hung node (SIGSTOP) within the deadline', async () => {
    signalNode('node-1', 'SIGSTOP')
    try {
      const started = Date.now()
      const responses = await Promise.all(Array.from({ length: 4 }, () => chat(body())))
      const ms = Date.now() - started
      expect(responses.map((response) => response.status)).toEqual([200, 200, 200, 200])
      const served = responses.map((response) => response.headers.get('x-gemma-node'))
      expect(served).not.toContain('node-1')
      console.log(`[fleet] 4 requests with node-1 hung: all 200 in ${ms} ms`)
    } finally {
      signalNode('node-1', 'SIGCONT')
    }
    await waitForFleet(fleet.workerUrl, 3)
  })

  it('survives kill -9 of a node mid-stream: error frame, exact usage, the others serve', async () => {
    const admin = createAdminClient(fleet.workerUrl, fleet.adminToken)
    const tenant = await admin.request<{ id: string }>('POST', '/tenants', { name: 'kill-test' })
    const { key } = await admin.request<{ key: string }>('POST', `/tenants/${tenant.id}/keys`, {})
    const payload = body({ stream: true, max_completion_tokens: 4_000, seed: 11 })
    const response = await chat(payload, key)
    const victim = response.headers.get('x-gemma-node')!
    const stream = events(response)
    let text = ''
    let chunks = 0
    const contentOf = (data: string) =>
      (JSON.parse(data) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta
        .content ?? ''
    while (chunks < 5) {
      const { value, done } = await stream.next()
      if (done) throw new Error('the stream ended before five content chunks')
      const delta = contentOf(value)
      if (delta) chunks++
      text += delta
    }
    const killedAt = Date.now()
    signalNode(victim, 'SIGKILL')
    // Requests during the kill, one every 100 ms for 2 s, on the development tenant.
    const burst = Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        await new Promise((resolve) => setTimeout(resolve, i * 100))
        const reply = await chat(body({ seed: 100 + i }))
        await reply.text()
        return { status: reply.status, node: reply.headers.get('x-gemma-node') }
      }),
    )
    const tail: string[] = []
    let errorAt = 0
    for await (const data of stream) {
      if (data.includes('"error"') && errorAt === 0) errorAt = Date.now()
      else if (data !== '[DONE]') text += contentOf(data)
      tail.push(data)
    }
    expect(JSON.parse(tail.at(-2)!).error).toMatchObject({ code: 'upstream_error', param: null })
    expect(tail.at(-1)).toBe('[DONE]')
    const results = await burst
    const failed = results.filter((result) => result.status !== 200).length
    expect(failed).toBe(0)
    expect(results.map((result) => result.node)).not.toContain(victim)
    let droppedAt = 0
    await expect.poll(nodeCount, { timeout: 15_000, interval: 100 }).toBe(2)
    droppedAt = Date.now()
    console.log(
      `[fleet] kill -9 of ${victim}: stream error frame after ${errorAt - killedAt} ms; ` +
        `dropped from the registry after ${droppedAt - killedAt} ms; ` +
        `${failed} of ${results.length} requests failed during the kill`,
    )

    // The charge is the node's own count of what it generated, not the 4,000-token reservation...
    type Day = { requests: number; completion_tokens: number; prompt_tokens: number }
    const usage = async () =>
      (await admin.request<{ data: Day[] }>('GET', `/tenants/${tenant.id}/usage`)).data[0]
    await expect.poll(async () => (await usage())?.requests, { timeout: 10_000 }).toBe(1)
    const { completion_tokens: charged } = (await usage())!
    expect(charged).toBeGreaterThanOrEqual(chunks)
    expect(charged).toBeLessThan(4_000)
    // ...and exactly that many tokens regenerate the text the client received (same seed, another node).
    const replay = await chat({ ...payload, stream: false, max_completion_tokens: charged })
    const replayed = (await replay.json()) as {
      choices: { message: { content: string } }[]
      usage: { completion_tokens: number }
    }
    expect(replayed.usage.completion_tokens).toBe(charged)
    expect(replayed.choices[0]!.message.content.startsWith(text)).toBe(true)
    console.log(`[fleet] killed stream: ${chunks}+ chunks received, ${charged} tokens charged`)
  })

  it('takes the restarted node back once its heartbeats arrive', async () => {
    const victim = [...fleet.nodes.keys()].find((id) => !isRunning(id))
    if (!victim) throw new Error('no node was killed')
    const started = Date.now()
    await fleet.startNode(victim)
    await waitForFleet(fleet.workerUrl, 3)
    console.log(`[fleet] ${victim} restarted and rejoined in ${Date.now() - started} ms`)
    const served: (string | null)[] = []
    for (let i = 0; i < 6; i++) served.push((await chat(body())).headers.get('x-gemma-node'))
    expect(served).toContain(victim)
  })

  it('has nodes that refuse unsigned, replayed and tampered requests', async () => {
    const node = fleet.nodes.get('node-0')!
    const text = JSON.stringify(body())
    const headers = await signRequest({
      method: 'POST',
      path: '/v1/chat/completions',
      body: text,
      secret: fleet.secret,
    })
    const send = (sent: string, extra: Record<string, string>) =>
      fetch(`${node.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...extra },
        body: sent,
      })
    expect((await send(text, {})).status).toBe(401)
    expect((await send(text.replace('long', 'short'), headers)).status).toBe(401)
    expect((await send(text, headers)).status).toBe(200)
    expect((await send(text, headers)).status).toBe(401)
  })

  it('refuses malformed and unsigned heartbeats at the edge', async () => {
    const post = async (sent: string, sign: boolean) => {
      const headers = sign
        ? await signRequest({
            method: 'POST',
            path: HEARTBEAT_PATH,
            body: sent,
            secret: fleet.secret,
          })
        : {}
      return fetch(`${fleet.workerUrl}${HEARTBEAT_PATH}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: sent,
      })
    }
    const malformed = JSON.stringify({ node_id: 'x', url: 'not a url' })
    expect((await post(malformed, true)).status).toBe(400)
    expect((await post(malformed, false)).status).toBe(401)
    expect(await nodeCount()).toBe(3)
  })
})

function isRunning(id: string): boolean {
  const child = fleet.nodes.get(id)!.service.child
  return child.exitCode === null && child.signalCode === null
}
