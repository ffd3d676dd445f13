/**
 * @module
 * What the engine reports as it runs, kept as an interface so the engine does not depend on a metrics
 * library (http/metrics.ts implements it with prom-client; tests can record it).
 */

export interface StepReport {
  /** Sequences in the step, and how many of them decoded (one batched call when batching). */
  items: number
  decodes: number
  /**
   * Wall time of the step as the engine saw it: from the previous step's answer to this one's (from
   * sending it, when the runner had nothing to do before). With the next step queued ahead, that is the
   * runner's time for the step plus any wait it had between steps (the hand-offs between the threads).
   */
  engineMs: number
  /**
   * Wall time of the step inside the runner thread. Both this and `runMs` include the releases the engine
   * waited for with the step (they run just before it).
   */
  runnerMs: number
  /** Time inside `session.run` during the step. */
  runMs: number
  /** KV cache entries held after the step, padding included. */
  kvTokens: number
}

/** Why a request was refused with 503. */
export const REJECT_REASONS = ['queue_full', 'shutting_down'] as const
export type RejectReason = (typeof REJECT_REASONS)[number]

export interface EngineObserver {
  step(report: StepReport): void
  firstToken(ttftMs: number): void
  /** Time between two tokens of one sequence. */
  interToken(gapMs: number): void
  rejected(reason: RejectReason): void
  /** The step queued behind the running one was taken back and planned again (a request came or left). */
  stepWithdrawn(): void
}

export const NO_OBSERVER: EngineObserver = {
  step() {},
  firstToken() {},
  interToken() {},
  rejected() {},
  stepWithdrawn() {},
}
