/**
 * @module
 * Helpers for the workerd tests: requests to the worker under test (`exports.default.fetch`), reads of what
 * the fake GPU node recorded, and `withTimeout`, which every wait goes through (a hung wait would otherwise
 * hold the test until vitest's global timeout and hide which step hung).
 */
import { env, exports } from 'cloudflare:workers'
import type { RecordedRequest, Scenario } from './scenarios.ts'
import { TEST_API_KEY, scenarioMarker } from './scenarios.ts'

export const EDGE = 'http://edge.test'

/** Rejects with `label` if `promise` does not settle within `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, label: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | null = null
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${label}`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Sends a request to the worker under test. */
export function callEdge(input: string | Request, init?: RequestInit): Promise<Response> {
  const request = typeof input === 'string' ? new Request(`${EDGE}${input}`, init) : input
  return withTimeout(exports.default.fetch(request), 10_000, `edge ${request.url}`)
}

/** A valid chat body whose last user message selects `scenario` on the fake node. */
export function chatBody(scenario: Scenario, extra: Record<string, unknown> = {}) {
  return {
    model: 'gemma-3n-e2b-it',
    messages: [{ role: 'user', content: `Say hello ${scenarioMarker(scenario)}` }],
    ...extra,
  }
}

/** A `POST /v1/chat/completions` request with the test key and a JSON body. */
export function chatRequest(body: unknown, headers: Record<string, string> = {}): Request {
  return new Request(`${EDGE}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${TEST_API_KEY}`,
      'content-type': 'application/json',
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
}

/** GETs a test endpoint of the fake node. */
async function fakeNode<T>(path: string): Promise<T> {
  const response = await withTimeout(fetch(`${env.GPU_NODES}${path}`), 5_000, `fake node ${path}`)
  if (!response.ok) throw new Error(`fake node ${path}: HTTP ${response.status}`)
  return response.json<T>()
}

/** What the edge forwarded to the fake node for request `id`. */
export function recordedRequest(id: string): Promise<RecordedRequest> {
  return fakeNode<RecordedRequest>(`/__test/requests?id=${encodeURIComponent(id)}`)
}

/** Resolves once the fake node has seen the edge close the connection for request `id`. */
export function waitForNodeAbort(id: string): Promise<void> {
  const poll = async () => {
    for (;;) {
      const { aborted } = await fakeNode<{ aborted: boolean }>(`/__test/aborted?id=${id}`)
      if (aborted) return
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  return withTimeout(poll(), 5_000, `node sees abort of ${id}`)
}

/** Splits an SSE body into its frames (the text between blank lines), for byte-level assertions. */
export function sseFrames(text: string): string[] {
  return text.split('\n\n').filter((frame) => frame !== '')
}
