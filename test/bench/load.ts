/**
 * @module
 * One load level: `concurrency` closed-loop clients at once, each streaming completions of `maxTokens`
 * tokens back to back. Aggregate throughput is completion tokens over the wall time of the whole level.
 */
import { signRequest } from '../../shared/signing.ts'
import { percentile, timeStream } from './stream-timing.ts'
import type { Credentials, StreamTiming } from './stream-timing.ts'

export const PROMPTS = [
  'Write a short poem about the sea.',
  'Explain how a bicycle stays upright.',
  'List five uses for a paperclip.',
  'What is the capital of France, and why?',
]

/**
 * Requests per load level and pass at the least, `BENCH_MIN_REQUESTS` (32 by default: concurrency 1 sends
 * 32 in a row, 16 sends 2 each, so most requests arrive while others stream, as in service, and not all in
 * one opening burst; 64 sends 1 each).
 */
export const MIN_REQUESTS = Math.max(1, Number(process.env.BENCH_MIN_REQUESTS || 32))

export interface LevelResult {
  concurrency: number
  completed: number
  refused_clean: number
  failed: number
  tokens_per_s: number
  ttft_p50_ms: number
  ttft_p99_ms: number
  itl_p50_ms: number
  itl_p99_ms: number
}

export function chatBody(i: number, maxTokens: number) {
  // Sampling with a fixed seed per request: reproducible, and a random-weight model rarely hits EOS.
  return {
    model: 'gemma-3n-e2b-it',
    messages: [{ role: 'user', content: PROMPTS[i % PROMPTS.length] }],
    max_completion_tokens: maxTokens,
    temperature: 1,
    seed: 1000 + i,
  }
}

export async function runLevel(
  url: string,
  key: Credentials,
  concurrency: number,
  maxTokens: number,
): Promise<LevelResult> {
  // Closed-loop clients, each sending its requests back to back, at least MIN_REQUESTS in all: one
  // request alone is too noisy a sample at low concurrency.
  const rounds = Math.max(1, Math.ceil(MIN_REQUESTS / concurrency))
  const client = async (i: number) => {
    const results = []
    for (let r = 0; r < rounds; r++) {
      results.push(await timeStream(url, key, chatBody(i + r * concurrency, maxTokens)))
    }
    return results
  }
  const start = performance.now()
  const outcomes = (
    await Promise.all(Array.from({ length: concurrency }, (_, i) => client(i)))
  ).flat()
  const seconds = (performance.now() - start) / 1000
  const done = outcomes.filter((o): o is StreamTiming => o.ok)
  const refusals = outcomes.filter((o) => !o.ok)
  const tokens = done.reduce((sum, o) => sum + o.completionTokens, 0)
  const ttft = done.map((o) => o.ttftMs)
  const gaps = done.flatMap((o) => o.gapsMs)
  return {
    concurrency,
    completed: done.length,
    refused_clean: refusals.filter((o) => o.clean).length,
    failed: refusals.filter((o) => !o.clean).length,
    tokens_per_s: tokens / seconds,
    ttft_p50_ms: percentile(ttft, 50),
    ttft_p99_ms: percentile(ttft, 99),
    itl_p50_ms: percentile(gaps, 50),
    itl_p99_ms: percentile(gaps, 99),
  }
}

/** Sums of the node's step counters, for the JavaScript overhead of a load level. */
export async function stepCounters(
  nodeUrl: string,
  secret: string,
): Promise<{ step: number; runner: number; run: number }> {
  const headers = await signRequest({ method: 'GET', path: '/metrics', body: '', secret })
  const text = await (await fetch(`${nodeUrl}/metrics`, { headers })).text()
  const read = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN)
  return {
    step: read('gemma_step_seconds_total'),
    runner: read('gemma_step_runner_seconds_total'),
    run: read('gemma_session_run_seconds_total'),
  }
}

/**
 * p50 of `count` sequential GETs of `url` (no auth, no model work): the fixed cost of the path in front
 * of the handlers. For the edge under `wrangler dev` this includes wrangler's local proxy worker.
 */
export async function roundTripP50(url: string, count = 30): Promise<number> {
  const times: number[] = []
  for (let i = 0; i < count; i++) {
    const started = performance.now()
    await (await fetch(url)).arrayBuffer()
    times.push(performance.now() - started)
  }
  return percentile(times, 50)
}
