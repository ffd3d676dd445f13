/**
 * @module
 * Decides, step by step, which sequences run and with which tokens. Pure: no HTTP, no runtime, no clock.
 * - Admission: up to `maxRunning` sequences hold a KV cache; the rest wait, at most `maxQueued`.
 * - Priority and fairness: the waiting request with the highest priority goes first; among equal
 *   priorities, tenants take turns (round-robin), so a tenant with 50 queued requests does not starve one
 *   with a single request. Within a tenant, higher priority first, then arrival order.
 * - Memory: a sequence is admitted only if the KV cache can hold it to its last token (prompt + max
 *   completion tokens) next to everything running. With a padded batch every row is as wide as the
 *   widest, so the bound is rows x widest reservation; otherwise the sum of reservations.
 * - Chunked prefill: every decoding sequence gets its token each step (the batched decode needs all of
 *   them); prompts are fed `prefillChunk` tokens at a time within what is left of the per-step token
 *   budget, so running streams keep flowing while a long prompt prefills.
 * - Planning ahead: a step is planned as if the steps planned before it had run (their prompt chunks fed,
 *   their tokens sampled), so the engine can send it while the previous one still runs. So a sequence can
 *   be in one step more than it needs (it ended with the step before), and that step's token for it is
 *   thrown away. In a padded batch that is so even when all of its `maxTokens` are asked for already: the
 *   batched decode runs every row of the batch until the row is released.
 */
import type { Sequence } from './sequence.ts'

export interface SchedulerOptions {
  /** Sequences that may hold a KV cache at once. */
  maxRunning: number
  /** Requests that may wait for a slot; beyond that `enqueue` refuses. */
  maxQueued: number
  /** Prompt tokens fed per sequence per step. */
  prefillChunk: number
  /** Tokens (decode + prefill) per step; decode tokens are always scheduled. */
  maxStepTokens: number
  /** KV cache capacity in tokens (cache entries). */
  kvBudgetTokens: number
  /** Decoding rows share one padded batch (every row as wide as the widest). */
  paddedBatch: boolean
}

export interface PlannedItem {
  seq: Sequence
  /** `decode`: feeds the token the runner sampled last for the sequence (no `tokens`). */
  phase: 'prefill' | 'decode'
  tokens: number[]
  /** Sample a token after this item (decode, or the prompt's last chunk). */
  sample: boolean
}

export class Scheduler {
  readonly options: SchedulerOptions
  readonly #running: Sequence[] = []
  readonly #waiting = new Map<string, Sequence[]>()
  #waitingCount = 0

  constructor(options: SchedulerOptions) {
    this.options = options
  }

  get runningCount(): number {
    return this.#running.length
  }

  get waitingCount(): number {
    return this.#waitingCount
  }

  get idle(): boolean {
    return this.#running.length === 0 && this.#waitingCount === 0
  }

  /** Every sequence the scheduler holds, running first. */
  all(): Sequence[] {
    return [...this.#running, ...[...this.#waiting.values()].flat()]
  }

  /** Queues a sequence; `false` when the queue is full (the caller answers 503). */
  enqueue(seq: Sequence): boolean {
    if (this.#waitingCount >= this.options.maxQueued) return false
    const tenant = seq.request.tenant
    const queue = this.#waiting.get(tenant)
    if (!queue) this.#waiting.set(tenant, [seq])
    else {
      // Stable insertion: after every request of the same or higher priority.
      const at = queue.findIndex((other) => other.request.priority < seq.request.priority)
      queue.splice(at === -1 ? queue.length : at, 0, seq)
    }
    this.#waitingCount++
    return true
  }

  /** Forgets a finished or aborted sequence, waiting or running. */
  remove(seq: Sequence): void {
    const index = this.#running.indexOf(seq)
    if (index !== -1) {
      this.#running.splice(index, 1)
      return
    }
    const queue = this.#waiting.get(seq.request.tenant)
    const position = queue?.indexOf(seq) ?? -1
    if (queue && position !== -1) {
      queue.splice(position, 1)
      this.#waitingCount--
      if (queue.length === 0) this.#waiting.delete(seq.request.tenant)
    }
  }

  /**
   * The next step's work, counted as planned (its prompt chunks as fed, its samples as taken). Empty when
   * there is nothing to do.
   */
  schedule(): PlannedItem[] {
    this.#admit()
    const items: PlannedItem[] = []
    let budget = this.options.maxStepTokens
    for (const seq of this.#running) {
      if (!seq.prefillDone) continue
      if (!this.options.paddedBatch && askedAll(seq)) continue
      items.push({ seq, phase: 'decode', tokens: [], sample: true })
      budget--
    }
    for (const seq of this.#running) {
      if (seq.prefillDone || budget < 1) continue
      const prompt = seq.request.promptIds
      const size = Math.min(this.options.prefillChunk, budget, prompt.length - seq.prefilled)
      const tokens = prompt.slice(seq.prefilled, seq.prefilled + size)
      items.push({ seq, phase: 'prefill', tokens, sample: seq.prefilled + size === prompt.length })
      budget -= size
    }
    // A step whose every token would be thrown away (rows kept only for the padded batch) is not worth a
    // run: no step at all also leaves the batch as it is.
    if (items.every((item) => item.phase === 'decode' && askedAll(item.seq))) return []
    for (const { seq, phase, tokens, sample } of items) {
      if (phase === 'prefill') seq.prefilled += tokens.length
      if (sample) seq.samplesScheduled++
    }
    return items
  }

  /** The first tenant in round-robin order whose head has the highest priority of all heads. */
  #nextTenant(): [string, Sequence[]] {
    let best: [string, Sequence[]] | null = null
    for (const entry of this.#waiting) {
      if (!best || entry[1][0]!.request.priority > best[1][0]!.request.priority) best = entry
    }
    return best!
  }

  /** KV tokens the running sequences may need at most, and what admitting `seq` would make it. */
  kvReservation(extra?: Sequence): number {
    const all = extra ? [...this.#running, extra] : this.#running
    if (!this.options.paddedBatch) return all.reduce((sum, seq) => sum + reservation(seq), 0)
    return all.length * Math.max(0, ...all.map(reservation))
  }

  /** Whether the next `schedule()` would admit a waiting sequence. */
  get canAdmit(): boolean {
    return this.#admissible() !== null
  }

  /**
   * Takes back a planned step that never ran (the runner skipped it, step-gate.ts): its prompt chunks count
   * as not fed and its samples as not asked. Only the last step planned can be taken back.
   */
  unplan(items: PlannedItem[]): void {
    for (const { seq, phase, tokens, sample } of items) {
      if (phase === 'prefill') seq.prefilled -= tokens.length
      if (sample) seq.samplesScheduled--
    }
  }

  /**
   * The waiting tenant whose head is admitted next, if one can be now: the head of the round waits (and
   * blocks admission) until the KV budget can hold it, so large requests are not starved by a stream of
   * small ones.
   */
  #admissible(): [string, Sequence[]] | null {
    if (this.#running.length >= this.options.maxRunning || this.#waitingCount === 0) return null
    const next = this.#nextTenant()
    const fits = this.kvReservation(next[1][0]) <= this.options.kvBudgetTokens
    return fits || this.#running.length === 0 ? next : null
  }

  /** Round-robin over tenants: the first waiting tenant moves to the back after each admission. */
  #admit(): void {
    for (let next = this.#admissible(); next; next = this.#admissible()) {
      const [tenant, queue] = next
      const seq = queue.shift()!
      this.#waitingCount--
      this.#waiting.delete(tenant)
      if (queue.length > 0) this.#waiting.set(tenant, queue)
      this.#running.push(seq)
    }
  }
}

/** Whether every token the sequence may have is asked for already. */
function askedAll(seq: Sequence): boolean {
  return seq.samplesScheduled >= seq.request.maxTokens
}

/** KV entries a sequence needs by its last token. */
function reservation(seq: Sequence): number {
  return seq.request.promptIds.length + seq.request.maxTokens
}
