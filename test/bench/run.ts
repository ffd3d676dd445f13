/**
 * @module
 * `npm run bench`: starts the stack (a GPU node on GEMMA_MODEL_DIR, or the default 262,400-vocabulary
 * contract model, plus the worker in `wrangler dev`) and measures single-stream latency and throughput on
 * the node directly and through the edge. Prints a table and writes test/bench/results.json.
 * BENCH_REQUESTS (default 8) and BENCH_MAX_TOKENS (default 64) size the run.
 */
import { writeFile } from 'node:fs/promises'
import { cpus } from 'node:os'
import { join } from 'node:path'
import type { NodeHealth } from '../../shared/protocol.ts'
import { startStack } from '../support/stack.ts'
import { percentile, timeStream } from './stream-timing.ts'
import type { StreamTiming } from './stream-timing.ts'

const REQUESTS = Number(process.env.BENCH_REQUESTS || 8)
const MAX_TOKENS = Number(process.env.BENCH_MAX_TOKENS || 64)
const PROMPTS = [
  'Write a short poem about the sea.',
  'Explain how a bicycle stays upright.',
  'List five uses for a paperclip.',
  'What is the capital of France, and why?',
]

function body(i: number) {
  // Sampling with a fixed seed: reproducible, and random-weight models rarely hit EOS early this way.
  return {
    model: 'gemma-3n-e2b-it',
    messages: [{ role: 'user', content: PROMPTS[i % PROMPTS.length] }],
    max_completion_tokens: MAX_TOKENS,
    temperature: 1,
    seed: 1000 + i,
  }
}

async function measure(url: string, key: string): Promise<Record<string, number>> {
  await timeStream(url, key, body(99)) // warm-up: first-call allocations, JIT
  const runs: StreamTiming[] = []
  for (let i = 0; i < REQUESTS; i++) runs.push(await timeStream(url, key, body(i)))
  const ttft = runs.map((r) => r.ttftMs)
  const tokens = runs.reduce((sum, r) => sum + r.completionTokens, 0)
  const seconds = runs.reduce((sum, r) => sum + r.totalMs, 0) / 1000
  return {
    requests: runs.length,
    ttft_p50_ms: percentile(ttft, 50),
    ttft_p99_ms: percentile(ttft, 99),
    decode_tokens_per_s_p50: percentile(
      runs.map((r) => r.decodeTokensPerSecond),
      50,
    ),
    end_to_end_tokens_per_s: tokens / seconds,
    completion_tokens: tokens,
  }
}

const stack = await startStack(
  process.env.GEMMA_MODEL_DIR ? { GEMMA_MODEL_DIR: process.env.GEMMA_MODEL_DIR } : {},
)
try {
  const model = (await (await fetch(`${stack.nodeUrl}/health`)).json()) as NodeHealth
  const results = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version },
    model: model.model,
    workload: { requests: REQUESTS, max_completion_tokens: MAX_TOKENS, concurrency: 1 },
    node_direct: await measure(stack.nodeUrl, stack.nodeSecret),
    through_edge: await measure(stack.workerUrl, stack.apiKey),
  }
  await writeFile(
    join(import.meta.dirname, 'results.json'),
    JSON.stringify(results, null, 2) + '\n',
  )
  console.log(
    `model: ${results.model.dtype} on ${results.model.device}${results.model.contract_model ? ' (random-weight contract model)' : ''}`,
  )
  console.table({
    'GPU node direct': results.node_direct,
    'through the edge': results.through_edge,
  })
  console.log(`wrote ${join(import.meta.dirname, 'results.json')}`)
} finally {
  await stack.stop()
}
