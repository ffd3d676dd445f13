/**
 * @module
 * Times streamed chat completions as a client sees them: time to the first content token, the gaps
 * between content chunks, the exact token count from the usage chunk; and how a request was refused.
 */
import { signRequest } from '../../shared/signing.ts'
import { SSEDecoder } from '../../shared/sse.ts'

export interface StreamTiming {
  ok: true
  ttftMs: number
  totalMs: number
  completionTokens: number
  /** Gaps between consecutive content chunks. */
  gapsMs: number[]
}

/** A refusal: `clean` when it was a 503 with `retry-after` (what admission control promises). */
export interface StreamRefusal {
  ok: false
  status: number
  clean: boolean
  message: string
}

/** A tenant API key (the edge), or the secret a GPU node verifies signatures with (a node directly). */
export type Credentials = string | { nodeSecret: string }

/** Auth headers for a POST of `body` to `/v1/chat/completions`. */
async function authHeaders(
  credentials: Credentials,
  body: string,
): Promise<Record<string, string>> {
  if (typeof credentials === 'string') return { authorization: `Bearer ${credentials}` }
  const { nodeSecret: secret } = credentials
  return signRequest({ method: 'POST', path: '/v1/chat/completions', body, secret })
}

export async function timeStream(
  url: string,
  credentials: Credentials,
  body: Record<string, unknown>,
): Promise<StreamTiming | StreamRefusal> {
  const payload = JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } })
  const headers = await authHeaders(credentials, payload)
  const start = performance.now()
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: payload,
  })
  if (!response.ok || !response.body) {
    const clean = response.status === 503 && response.headers.has('retry-after')
    return { ok: false, status: response.status, clean, message: await response.text() }
  }
  const decoder = new SSEDecoder()
  const text = new TextDecoder()
  let first: number | null = null
  let last = 0
  const gapsMs: number[] = []
  let completionTokens = 0
  for await (const bytes of response.body) {
    for (const event of decoder.push(text.decode(bytes, { stream: true }))) {
      if (event.data === '[DONE]') continue
      const chunk = JSON.parse(event.data)
      if (chunk.error) return { ok: false, status: 200, clean: false, message: chunk.error.message }
      if (chunk.choices?.[0]?.delta?.content) {
        const now = performance.now()
        if (first === null) first = now
        else gapsMs.push(now - last)
        last = now
      }
      if (chunk.usage) completionTokens = chunk.usage.completion_tokens
    }
  }
  const end = performance.now()
  return {
    ok: true,
    ttftMs: (first ?? end) - start,
    totalMs: end - start,
    completionTokens,
    gapsMs,
  }
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[index]!
}
