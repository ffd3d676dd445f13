/**
 * @module
 * Times one streamed chat completion as a client sees it: time to the first content token, the decode rate
 * after it, and the exact token counts from the usage chunk.
 */
import { SSEDecoder } from '../../shared/sse.ts'

export interface StreamTiming {
  ttftMs: number
  totalMs: number
  completionTokens: number
  /** Tokens after the first, per second of the time after the first. */
  decodeTokensPerSecond: number
}

export async function timeStream(
  url: string,
  apiKey: string,
  body: Record<string, unknown>,
): Promise<StreamTiming> {
  const start = performance.now()
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
  })
  if (!response.ok || !response.body)
    throw new Error(`HTTP ${response.status}: ${await response.text()}`)
  const decoder = new SSEDecoder()
  const text = new TextDecoder()
  let first: number | null = null
  let completionTokens = 0
  for await (const bytes of response.body) {
    for (const event of decoder.push(text.decode(bytes, { stream: true }))) {
      if (event.data === '[DONE]') continue
      const chunk = JSON.parse(event.data)
      if (chunk.error) throw new Error(chunk.error.message)
      if (chunk.choices?.[0]?.delta?.content) first ??= performance.now()
      if (chunk.usage) completionTokens = chunk.usage.completion_tokens
    }
  }
  const end = performance.now()
  const firstAt = first ?? end
  return {
    ttftMs: firstAt - start,
    totalMs: end - start,
    completionTokens,
    decodeTokensPerSecond:
      completionTokens > 1 ? ((completionTokens - 1) * 1000) / (end - firstAt) : 0,
  }
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[index]!
}
