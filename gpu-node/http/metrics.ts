/**
 * @module
 * `GET /metrics` in Prometheus text format (prom-client): queue depth, running sequences, tokens/s,
 * time-to-first-token and inter-token latency histograms, batch sizes, KV cache use, rejected requests,
 * queued steps withdrawn and planned again (a request joined or was cancelled), and the share of each
 * step spent outside `session.run` (JavaScript overhead). Every series exists from the start, at 0, so
 * that `rate()` and alerts see a quiet node rather than no data.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { EngineStats } from '../engine/engine.ts'
import { REJECT_REASONS } from '../engine/observer.ts'
import type { EngineObserver, RejectReason, StepReport } from '../engine/observer.ts'

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
/** Tokens/s and JS overhead gauges average over this window. */
const WINDOW_MS = 10_000

export class NodeMetrics implements EngineObserver {
  readonly registry = new Registry()
  readonly #ttft = new Histogram({
    name: 'gemma_time_to_first_token_seconds',
    help: 'Time from arrival to the first generated token.',
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  })
  readonly #interToken = new Histogram({
    name: 'gemma_inter_token_latency_seconds',
    help: 'Time between consecutive tokens of one sequence.',
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  })
  readonly #batch = new Histogram({
    name: 'gemma_decode_batch_size',
    help: 'Sequences decoded per engine step.',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128],
    registers: [this.registry],
  })
  readonly #tokens = new Counter({
    name: 'gemma_generated_tokens_total',
    help: 'Completion tokens generated.',
    registers: [this.registry],
  })
  readonly #rejected = new Counter({
    name: 'gemma_requests_rejected_total',
    help: 'Requests refused with 503.',
    labelNames: ['reason'],
    registers: [this.registry],
  })
  readonly #withdrawn = new Counter({
    name: 'gemma_steps_withdrawn_total',
    help: 'Queued steps taken back before they began and planned again (a request came or left).',
    registers: [this.registry],
  })
  readonly #stepSeconds = new Counter({
    name: 'gemma_step_seconds_total',
    help: 'Wall time of engine steps.',
    registers: [this.registry],
  })
  readonly #runnerSeconds = new Counter({
    name: 'gemma_step_runner_seconds_total',
    help: 'Wall time of engine steps inside the runner thread (without the hand-off between threads).',
    registers: [this.registry],
  })
  readonly #runSeconds = new Counter({
    name: 'gemma_session_run_seconds_total',
    help: 'Time inside onnxruntime session.run during engine steps.',
    registers: [this.registry],
  })
  /** Recent steps: [time, tokens, engineMs, runMs]. */
  #recent: [number, number, number, number][] = []

  /** `stats` is read at scrape time, so the metrics can exist before the engine they describe. */
  constructor(stats: () => EngineStats) {
    for (const reason of REJECT_REASONS) this.#rejected.inc({ reason }, 0)
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(read())
        },
      })
    gauge('gemma_queue_depth', 'Requests waiting for a slot.', () => stats().queued)
    gauge('gemma_running_sequences', 'Sequences holding a KV cache.', () => stats().running)
    gauge(
      'gemma_kv_cache_used_tokens',
      'KV cache entries held, padding included.',
      () => stats().kvTokens,
    )
    gauge(
      'gemma_kv_cache_budget_tokens',
      'KV cache capacity in entries.',
      () => stats().kvBudgetTokens,
    )
    gauge(
      'gemma_kv_cache_reserved_tokens',
      'KV cache entries the running sequences may grow to, which admission counts against the budget.',
      () => stats().kvReservedTokens,
    )
    gauge(
      'gemma_tokens_per_second',
      `Generated tokens/s over the last ${WINDOW_MS / 1000} s.`,
      () => {
        const recent = this.#window()
        const tokens = recent.reduce((sum, [, n]) => sum + n, 0)
        return recent.length ? (tokens * 1000) / WINDOW_MS : 0
      },
    )
    gauge(
      'gemma_js_overhead_ratio',
      'Share of step time outside session.run, recent steps.',
      () => {
        const recent = this.#window()
        const step = recent.reduce((sum, [, , ms]) => sum + ms, 0)
        const run = recent.reduce((sum, [, , , ms]) => sum + ms, 0)
        return step > 0 ? 1 - run / step : 0
      },
    )
  }

  step(report: StepReport): void {
    this.#batch.observe(report.decodes)
    this.#stepSeconds.inc(report.engineMs / 1000)
    this.#runnerSeconds.inc(report.runnerMs / 1000)
    this.#runSeconds.inc(report.runMs / 1000)
    const now = performance.now()
    this.#recent.push([now, 0, report.engineMs, report.runMs])
    // Bounded even if nobody scrapes: drop what has left the window.
    while (this.#recent.length > 0 && this.#recent[0]![0] < now - WINDOW_MS) this.#recent.shift()
  }

  firstToken(ttftMs: number): void {
    this.#ttft.observe(ttftMs / 1000)
    this.#countToken()
  }

  interToken(gapMs: number): void {
    this.#interToken.observe(gapMs / 1000)
    this.#countToken()
  }

  rejected(reason: RejectReason): void {
    this.#rejected.inc({ reason })
  }

  stepWithdrawn(): void {
    this.#withdrawn.inc()
  }

  render(): Promise<string> {
    return this.registry.metrics()
  }

  #countToken(): void {
    this.#tokens.inc()
    const last = this.#recent.at(-1)
    if (last) last[1] += 1
  }

  #window(): [number, number, number, number][] {
    const since = performance.now() - WINDOW_MS
    this.#recent = this.#recent.filter(([at]) => at >= since)
    return this.#recent
  }
}
