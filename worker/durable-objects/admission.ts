/**
 * @module
 * The admission decision for one reservation, against one read of the ledger (scope-usage.ts): limits of 0 first
 * (refused outright), then concurrency and requests per minute, then tokens. A token need that no window
 * could ever hold is `too_large`; one that would fit but for the tokens running requests hold (a
 * reservation is the worst case, most of it comes back when the request ends) is `busy`, worth a retry in
 * a moment; one that does not fit even so is `rate` (tpm) or `quota` (daily, monthly): spent. Pure reads:
 * the caller admits in the same synchronous step.
 */
import { LIMIT_FIELDS } from '../tenancy/limits.ts'
import { TOKEN_FIELDS } from '../budget/windows.ts'
import type { TokenField } from '../budget/windows.ts'
import type { Scope } from './ledger.ts'
import type { Refusal } from './limiter-types.ts'
import type { ScopeUsage } from './scope-usage.ts'

/** How long a client refused by the concurrency limit should wait: one stream's worth of patience. */
const CONCURRENCY_RETRY_MS = 1_000
/** The same for tokens held by running requests: they come back as soon as one of them ends. */
const BUSY_RETRY_MS = 1_000

/** Tokens the open reservations hold in a scope's window (the one starting at `start`). */
export type HeldTokens = (scope: string, field: TokenField, start: number) => number

export interface Demand {
  promptTokens: number
  maxCompletionTokens: number
  /** The grant may go below `maxCompletionTokens` (down to 1) to fit the limits. */
  flexibleCompletion: boolean
}

export type Decision = { ok: true; completionTokens: number } | { ok: false; refusal: Refusal }

const SEVERITY: Record<Refusal['reason'], number> = {
  disabled: 3,
  too_large: 2,
  quota: 1,
  rate: 0,
  busy: 0,
}

/** The refusal a client should hear about: the hardest one, then the longest wait. */
function worst(refusals: Refusal[]): Refusal | undefined {
  return refusals.reduce<Refusal | undefined>((a, b) => {
    if (!a) return b
    if (SEVERITY[a.reason] !== SEVERITY[b.reason])
      return SEVERITY[a.reason] > SEVERITY[b.reason] ? a : b
    return b.retryAfterMs > a.retryAfterMs ? b : a
  }, undefined)
}

function disabled(scopes: Scope[]): Refusal | undefined {
  for (const scope of scopes) {
    for (const field of LIMIT_FIELDS) {
      if (scope.limits[field] !== 0) continue
      return {
        reason: 'disabled',
        field,
        scope: scope.kind,
        limit: 0,
        requested: null,
        retryAfterMs: 0,
      }
    }
  }
  return undefined
}

function requestRefusals(usage: ScopeUsage, scopes: Scope[], now: number): Refusal[] {
  const refusals: Refusal[] = []
  for (const scope of scopes) {
    const { concurrency, rpm } = scope.limits
    if (concurrency !== undefined && usage.active(scope.id) >= concurrency) {
      refusals.push({
        reason: 'rate',
        field: 'concurrency',
        scope: scope.kind,
        limit: concurrency,
        requested: null,
        retryAfterMs: CONCURRENCY_RETRY_MS,
      })
    }
    if (rpm === undefined) continue
    const { used, window } = usage.usage(scope.id, 'rpm', now)
    if (used + 1 > rpm) {
      const retryAfterMs = window.end - now
      refusals.push({
        reason: 'rate',
        field: 'rpm',
        scope: scope.kind,
        limit: rpm,
        requested: null,
        retryAfterMs,
      })
    }
  }
  return refusals
}

/** Tokens each token window can still take, tightest first. */
function tokenRoom(usage: ScopeUsage, scopes: Scope[], now: number) {
  const rooms = []
  for (const scope of scopes) {
    for (const field of TOKEN_FIELDS) {
      const limit = scope.limits[field]
      if (limit === undefined) continue
      const { used, window } = usage.usage(scope.id, field, now)
      rooms.push({
        scope,
        field,
        limit,
        used,
        start: window.start,
        room: Math.max(0, limit - used),
        resetMs: window.end - now,
      })
    }
  }
  return rooms.sort((a, b) => a.room - b.room)
}

/**
 * Decides whether `demand` fits every scope right now, and how many completion tokens it is granted.
 * `held` is asked only for a token window that refuses, to tell tokens in use from tokens spent.
 * @example decide(ledger.read(scopes), scopes, { promptTokens: 40, maxCompletionTokens: 100, flexibleCompletion: false }, Date.now(), ledger.heldTokens)
 */
export function decide(
  usage: ScopeUsage,
  scopes: Scope[],
  demand: Demand,
  now: number,
  held: HeldTokens,
): Decision {
  const hard = disabled(scopes) ?? worst(requestRefusals(usage, scopes, now))
  if (hard) return { ok: false, refusal: hard }
  const rooms = tokenRoom(usage, scopes, now)
  const room = rooms[0]?.room ?? Infinity
  const { promptTokens, maxCompletionTokens, flexibleCompletion } = demand
  // A client that set no maximum gets what the limits leave, down to one token.
  const completionTokens = flexibleCompletion
    ? Math.min(maxCompletionTokens, room - promptTokens)
    : maxCompletionTokens
  const requested = promptTokens + Math.max(1, completionTokens)
  const refusals: Refusal[] = rooms
    .filter((r) => r.room < requested)
    .map((r): Refusal => {
      const base = { field: r.field, scope: r.scope.kind, limit: r.limit, requested }
      if (r.limit < requested) return { ...base, reason: 'too_large', retryAfterMs: r.resetMs }
      // Optimistic on purpose: some held tokens stay spent (the prompts, what is generated), so a retry
      // may meet `quota` after all; the pessimistic error would send a client away for hours when a
      // second later would have done.
      const inUse = held(r.scope.id, r.field, r.start)
      if (inUse > 0 && r.limit - (r.used - inUse) >= requested) {
        const retryAfterMs = Math.min(BUSY_RETRY_MS, r.resetMs)
        return { ...base, reason: 'busy', retryAfterMs, held: inUse }
      }
      return { ...base, reason: r.field === 'tpm' ? 'rate' : 'quota', retryAfterMs: r.resetMs }
    })
  const refusal = worst(refusals)
  return refusal ? { ok: false, refusal } : { ok: true, completionTokens }
}
