/**
 * A streaming client that leaves while its request still waits (in the node's queue, or in a long prefill)
 * sends nothing the edge could fail to write, and the runtime reports a gone client only when the edge
 * writes to it. So the edge writes a `: keep-alive` comment every 2 s of silence: the client's leaving is
 * noticed within seconds, and its place in the node's queue freed, not after the 15 s the node's own
 * keep-alive would take, or never for a request that waits behind a long one. Through `wrangler dev`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startStack } from '../support/stack.ts'
import type { Stack } from '../support/stack.ts'

let stack: Stack

beforeAll(async () => {
  // One running sequence at a time: a second request waits in the node's queue.
  stack = await startStack({ GPU_NODE_MAX_RUNNING: '1' })
})
afterAll(async () => stack?.stop())

async function load(): Promise<{ running: number; queued: number }> {
  const health = (await (await fetch(`${stack.nodeUrl}/health`)).json()) as {
    load: { running: number; queued: number }
  }
  return health.load
}

/** Polls the node's load until `done` holds; the last load seen when `limitMs` runs out. */
async function waitFor(done: (l: { running: number; queued: number }) => boolean, limitMs: number) {
  const until = Date.now() + limitMs
  let last = await load()
  while (!done(last) && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    last = await load()
  }
  return last
}

/** Opens a stream through the edge and reads it until it ends or `signal` aborts. */
function stream(content: string, maxTokens: number, signal: AbortSignal): Promise<void> {
  const body = {
    model: 'gemma-3n-e2b-it',
    messages: [{ role: 'user', content }],
    stream: true,
    max_completion_tokens: maxTokens,
  }
  return fetch(`${stack.workerUrl}/v1/chat/completions`, {
    method: 'POST',
    signal,
    headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
    .then(async (response) => {
      const reader = response.body!.getReader()
      while (!(await reader.read()).done);
    })
    .catch(() => undefined)
}

describe('a streaming client that leaves while its request waits', () => {
  it("frees its place in the node's queue within seconds, while the request ahead runs on", async () => {
    const ahead = new AbortController()
    const running = stream('Go on for a long time.', 32_000, ahead.signal)
    expect(await waitFor((l) => l.running === 1, 30_000)).toMatchObject({ running: 1 })
    const waiting = new AbortController()
    const queued = stream('A short one.', 8, waiting.signal)
    expect(await waitFor((l) => l.queued === 1, 30_000)).toMatchObject({ running: 1, queued: 1 })
    waiting.abort()
    // Well within the 32,000 tokens ahead, and well under the node's own 15 s keep-alive.
    expect(await waitFor((l) => l.queued === 0, 10_000)).toMatchObject({ running: 1, queued: 0 })
    ahead.abort()
    expect(await waitFor((l) => l.running === 0, 10_000)).toMatchObject({ running: 0, queued: 0 })
    await Promise.all([running, queued])
  })
})
