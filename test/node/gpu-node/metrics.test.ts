import { describe, expect, it } from 'vitest'
import { NodeMetrics } from '../../../gpu-node/http/metrics.ts'

const stats = {
  running: 3,
  queued: 2,
  maxRunning: 16,
  generatedTokens: 0,
  kvTokens: 120,
  kvBudgetTokens: 4096,
  kvReservedTokens: 3000,
}

/** The value of an unlabelled sample, or of the sample whose labels are exactly `labels`. */
function sample(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `))
  if (!line) throw new Error(`no sample ${name}${labels}`)
  return Number(line.slice(line.lastIndexOf(' ') + 1))
}

describe('NodeMetrics', () => {
  it('has every counter at 0 on a quiet node, rejection reasons included', async () => {
    const text = await new NodeMetrics(() => stats).render()
    for (const reason of ['queue_full', 'shutting_down']) {
      expect(sample(text, 'gemma_requests_rejected_total', `{reason="${reason}"}`)).toBe(0)
    }
    expect(sample(text, 'gemma_steps_withdrawn_total')).toBe(0)
  })

  it('reports the engine state, the step times and the JS overhead of recent steps', async () => {
    const metrics = new NodeMetrics(() => stats)
    metrics.step({ items: 4, decodes: 4, engineMs: 20, runnerMs: 18, runMs: 15, kvTokens: 100 })
    metrics.step({ items: 2, decodes: 2, engineMs: 10, runnerMs: 9, runMs: 9, kvTokens: 100 })
    metrics.firstToken(30)
    metrics.interToken(12)
    metrics.interToken(14)
    metrics.rejected('queue_full')
    metrics.stepWithdrawn()
    const text = await metrics.render()
    expect(sample(text, 'gemma_queue_depth')).toBe(2)
    expect(sample(text, 'gemma_running_sequences')).toBe(3)
    expect(sample(text, 'gemma_kv_cache_used_tokens')).toBe(120)
    expect(sample(text, 'gemma_kv_cache_budget_tokens')).toBe(4096)
    expect(sample(text, 'gemma_kv_cache_reserved_tokens')).toBe(3000)
    expect(sample(text, 'gemma_generated_tokens_total')).toBe(3)
    expect(sample(text, 'gemma_requests_rejected_total', '{reason="queue_full"}')).toBe(1)
    expect(sample(text, 'gemma_steps_withdrawn_total')).toBe(1)
    expect(sample(text, 'gemma_step_seconds_total')).toBeCloseTo(0.03)
    expect(sample(text, 'gemma_step_runner_seconds_total')).toBeCloseTo(0.027)
    expect(sample(text, 'gemma_session_run_seconds_total')).toBeCloseTo(0.024)
    // 30 ms of steps, 24 of them inside session.run.
    expect(sample(text, 'gemma_js_overhead_ratio')).toBeCloseTo(0.2)
    expect(sample(text, 'gemma_time_to_first_token_seconds_count')).toBe(1)
    expect(sample(text, 'gemma_inter_token_latency_seconds_count')).toBe(2)
    expect(sample(text, 'gemma_inter_token_latency_seconds_bucket', '{le="0.025"}')).toBe(2)
    expect(sample(text, 'gemma_decode_batch_size_bucket', '{le="2"}')).toBe(1)
    expect(sample(text, 'gemma_tokens_per_second')).toBeCloseTo(0.3)
  })
})
