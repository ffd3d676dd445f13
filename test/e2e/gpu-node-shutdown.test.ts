/**
 * @module
 * A GPU node process shutting down as a supervisor makes it: SIGTERM drains (503 for new requests, the
 * running stream ends with an error frame and `[DONE]` at the deadline, exit 0), and a second signal
 * stops it at once with exit 1. Exiting while the runner thread was inside onnxruntime, or tearing down,
 * aborted natively (exit 134) in about one run in three: the second-signal case runs twice.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { signRequest } from '../../shared/signing.ts'
import { ensureContractModel } from '../../gpu-node/contract-model/cache.ts'
import { startNodeProcess } from '../support/stack.ts'
import type { NodeProcess } from '../support/stack.ts'

let node: NodeProcess | null = null
afterEach(async () => {
  await node?.service.stop(2_000)
  node = null
})

async function start(drainSeconds: number): Promise<NodeProcess> {
  // The 262,400-token vocabulary: a random-weight model samples its end-of-turn token so rarely that the
  // stream is still running when the signals come (the small one ends within a second).
  const modelDir = await ensureContractModel()
  return startNodeProcess({
    GEMMA_MODEL_DIR: modelDir,
    GPU_NODE_DRAIN_SECONDS: String(drainSeconds),
  })
}

async function chat(target: NodeProcess, body: object): Promise<Response> {
  const text = JSON.stringify({ model: 'gemma-3n-e2b-it', ...body })
  const path = '/v1/chat/completions'
  const headers = await signRequest({ method: 'POST', path, body: text, secret: target.secret })
  return fetch(`${target.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: text,
  })
}

/**
 * A long stream, with its first two chunks read: running on the node when the signal comes. `rest`
 * resolves with the remaining text once the stream ends (wrapped, so awaiting this does not wait for it).
 */
async function longStream(target: NodeProcess): Promise<{ rest: Promise<string> }> {
  const messages = [{ role: 'user', content: 'Tell me a long story.' }]
  const body = { messages, max_tokens: 20_000, temperature: 1, stream: true }
  const response = await chat(target, body)
  const reader = response.body!.getReader()
  await reader.read()
  await reader.read()
  const rest = (async () => {
    let text = ''
    const decoder = new TextDecoder()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return text
      text += decoder.decode(value, { stream: true })
    }
  })()
  return { rest }
}

describe('GPU node shutdown', () => {
  it('drains on SIGTERM: 503 for new work, the running stream ended cleanly, exit 0', async () => {
    node = await start(2)
    const { rest } = await longStream(node)
    process.kill(node.service.child.pid!, 'SIGTERM')
    await expect
      .poll(async () => (await fetch(`${node!.url}/health`)).status, { timeout: 5_000 })
      .toBe(503)
    const refused = await chat(node, { messages: [{ role: 'user', content: 'Hi' }] })
    expect(refused.status).toBe(503)
    expect(refused.headers.get('retry-after')).toBe('1')
    const tail = await rest
    expect(tail).toContain('"code":"overloaded"')
    expect(tail.trimEnd().endsWith('data: [DONE]')).toBe(true)
    expect(await node.service.exited).toBe(0)
  })

  it.each([1, 2])('stops at once on a second signal, with exit 1 (run %i)', async () => {
    node = await start(30)
    const { rest } = await longStream(node)
    const pid = node.service.child.pid!
    process.kill(pid, 'SIGINT')
    await new Promise((resolve) => setTimeout(resolve, 300))
    process.kill(pid, 'SIGINT')
    expect(await node.service.exited).toBe(1)
    expect((await rest).trimEnd().endsWith('data: [DONE]')).toBe(true)
  })
})
