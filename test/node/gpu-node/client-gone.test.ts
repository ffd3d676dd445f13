/**
 * Clients that leave, on the GPU node over real HTTP: a stream cut mid-way, and a non-streaming request
 * abandoned. Their slots are freed, and a client that leaves is not logged as a failure (it read as "The
 * GPU node is shutting down", at level error). The 262,400-token
 * contract model: a random-weight model samples its end-of-turn token so rarely that the generation is
 * still running when the client leaves (the small one often ends within a few hundred tokens).
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { signRequest } from '../../../shared/signing.ts'
import { loadConfig } from '../../../gpu-node/config.ts'
import { ensureContractModel } from '../../../gpu-node/contract-model/cache.ts'
import { startNode } from '../../../gpu-node/node-server.ts'
import type { RunningNode } from '../../../gpu-node/node-server.ts'

const SECRET = 'client-gone-secret'
let node: RunningNode
const logs: Record<string, unknown>[] = []

beforeAll(async () => {
  const config = loadConfig({
    GPU_NODE_PORT: '0',
    GPU_NODE_SECRET: SECRET,
    GEMMA_MODEL_DIR: await ensureContractModel(),
  })
  node = await startNode(config, (line) => logs.push(line))
})
afterAll(async () => node?.close())

/** A long generation, signed as the edge signs it. */
async function longRequest(signal: AbortSignal, stream = false): Promise<Response> {
  const path = '/v1/chat/completions'
  const body = JSON.stringify({
    model: 'gemma-3n-e2b-it',
    messages: [{ role: 'user', content: 'Tell me a long story.' }],
    max_tokens: 20_000,
    temperature: 1,
    stream,
  })
  const headers = await signRequest({ method: 'POST', path, body, secret: SECRET })
  return fetch(`${node.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
    signal,
  })
}

it('frees the slot when the client disconnects mid-stream', async () => {
  const controller = new AbortController()
  const response = await longRequest(controller.signal, true)
  const reader = response.body!.getReader()
  await reader.read()
  await reader.read()
  expect(node.engine.stats().running).toBe(1)
  controller.abort()
  await expect.poll(() => node.engine.stats().running, { timeout: 5_000 }).toBe(0)
})

it('frees the slot of a non-streaming client that leaves, and does not log it as a failure', async () => {
  const controller = new AbortController()
  const pending = longRequest(controller.signal).catch((error: unknown) => error)
  await expect.poll(() => node.engine.stats().running, { timeout: 10_000 }).toBe(1)
  const logged = logs.length
  controller.abort()
  expect(await pending).toBeInstanceOf(Error)
  await expect.poll(() => node.engine.stats().running, { timeout: 5_000 }).toBe(0)
  await new Promise((resolve) => setTimeout(resolve, 100)) // the handler's end, after the slot
  const alarms = logs
    .slice(logged)
    .filter((line) => line.level === 'error' || line.level === 'warn')
  expect(alarms).toEqual([])
})
