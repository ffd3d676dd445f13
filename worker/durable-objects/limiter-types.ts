/**
 * @module
 * What the worker and the tenant's Durable Object exchange over RPC (plain, structured-cloneable data).
 */
import type { LimitField } from '../tenancy/limits.ts'

/** Which limit set a limit belongs to. */
export type ScopeKind = 'tenant' | 'key' | 'user'

/** One header family: `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` and the budget headers. */
export interface LimitState {
  limit: number
  remaining: number
  /** Until the limit is back to its initial state; 0 when it already is. */
  resetMs: number
}

/** The tightest state per family across the request's scopes; absent when nothing limits it. */
export interface RateSnapshot {
  requests?: LimitState
  tokens?: LimitState
  budget?: LimitState
}

/** Why a reservation was refused. */
export interface Refusal {
  /**
   * `rate`: retry after the window; `busy`: the tokens are there but held by requests still running, retry
   * soon; `quota`: budget spent; `disabled`: a limit of 0; `too_large`: never fits.
   */
  reason: 'rate' | 'busy' | 'quota' | 'disabled' | 'too_large'
  field: LimitField
  scope: ScopeKind
  limit: number
  /** Tokens the request needed (token limits only). */
  requested: number | null
  retryAfterMs: number
  /** `busy` only: the tokens running requests hold in the window (given back, less their use, as they end). */
  held?: number
}

/** The usage-record fields known when the request is admitted. */
export interface RecordBase {
  requestId: string
  keyId: string
  endUser: string | null
  model: string
  images: number
  audioClips: number
  /** Duration of the audio clips as the edge decoded them. */
  audioSeconds: number
  /** When the request reached the edge (Unix ms). */
  startedAt: number
}

export interface ReserveInput {
  tenantId: string
  keyId: string
  /** The OpenAI `user` field, for per-user limits. */
  user: string | null
  /** An upper bound of the prompt's tokens. */
  promptTokens: number
  /** The completion tokens the request may generate (already clamped to the context). */
  maxCompletionTokens: number
  /** True when the client set no maximum: the grant may be lowered to what the limits leave. */
  flexibleCompletion: boolean
  record: RecordBase
}

export type ReserveResult =
  | {
      ok: true
      reservationId: string
      /** The `max_completion_tokens` the node gets. */
      completionTokens: number
      reservedTokens: number
      leaseMs: number
      snapshot: RateSnapshot
      /** What `authorize` would have answered: a reservation is also the key's authorization. */
      grant: KeyGrant
    }
  | { ok: false; refusal: Refusal; snapshot: RateSnapshot; grant: KeyGrant }
  /** The key may not use `record.model`. */
  | { ok: false; refusal: null; denied: 'model'; grant: KeyGrant }
  /** The key is unknown, revoked or expired: the same answer for all three. */
  | { ok: false; refusal: null; denied: 'key' }

/** How much of a reservation to charge: the node's exact usage, nothing, or all of it (worst case). */
export type Charge =
  | { kind: 'exact'; promptTokens: number; completionTokens: number }
  | { kind: 'none' }
  | { kind: 'reserved' }

export interface CommitInput {
  reservationId: string
  charge: Charge
  status: number
  /** How the request ended: `done`, `node_error`, `cut`, `cancelled`, `refused`, `expired`, … */
  outcome: string
  latencyMs: number | null
  ttftMs: number | null
}

/** A key's view from its tenant's Durable Object, for authentication. */
export interface KeyGrant {
  tenantId: string
  tenantName: string
  keyId: string
  allowedModels: string[] | null
  snapshot: RateSnapshot
}

/** A usage record as written to D1 (`usage_records`). */
export interface UsageRecord extends RecordBase {
  id: string
  tenantId: string
  status: number
  outcome: string
  promptTokens: number
  completionTokens: number
  chargedTokens: number
  usageSource: 'node' | 'estimate' | 'none'
  latencyMs: number | null
  ttftMs: number | null
}
