/**
 * @module
 * Limit sets: what a tenant, one of its keys, or each of its end users (the OpenAI `user` field) may use.
 * A missing field means "no limit"; 0 means "nothing" (requests are refused with a message saying so).
 * The valibot schema is the one admin bodies and stored JSON are both read with.
 */
import * as v from 'valibot'

/** The limit fields, in the order they are reported. */
export const LIMIT_FIELDS = ['rpm', 'tpm', 'concurrency', 'daily_tokens', 'monthly_tokens'] as const

export type LimitField = (typeof LIMIT_FIELDS)[number]

/** One limit set. rpm/tpm: per 60 s window; daily/monthly: per UTC calendar day/month. */
export type Limits = Partial<Record<LimitField, number>>

/** A tenant's limits, plus the set every distinct end user (`user` field) gets on its own. */
export interface TenantLimits extends Limits {
  per_user?: Limits
}

/** Upper bound for any limit: far above what one tenant can use, and exact in a JS number and SQLite. */
export const MAX_LIMIT = 1e15

const limitValue = v.nullish(
  v.pipe(
    v.number(),
    v.integer('must be a whole number'),
    v.minValue(0, 'must be 0 or more'),
    v.maxValue(MAX_LIMIT, `must be at most ${MAX_LIMIT}`),
  ),
)

/** Each field: a whole number ≥ 0 sets it, `null` removes it, absent leaves it as it is. */
export const limitsPatchSchema = v.strictObject({
  rpm: limitValue,
  tpm: limitValue,
  concurrency: limitValue,
  daily_tokens: limitValue,
  monthly_tokens: limitValue,
})

export const tenantLimitsPatchSchema = v.strictObject({
  ...limitsPatchSchema.entries,
  per_user: v.nullish(limitsPatchSchema),
})

export type LimitsPatch = v.InferOutput<typeof limitsPatchSchema>
export type TenantLimitsPatch = v.InferOutput<typeof tenantLimitsPatchSchema>

/** Applies a patch: numbers set, `null` removes, absent keeps. */
export function applyLimitsPatch(current: Limits, patch: LimitsPatch): Limits {
  const next: Limits = { ...current }
  for (const field of LIMIT_FIELDS) {
    const value = patch[field]
    if (value === null) delete next[field]
    else if (value !== undefined) next[field] = value
  }
  return next
}

/** Like `applyLimitsPatch`, with `per_user` patched the same way (and dropped when it ends up empty). */
export function applyTenantLimitsPatch(
  current: TenantLimits,
  patch: TenantLimitsPatch,
): TenantLimits {
  const { per_user: currentPerUser, ...own } = current
  const next: TenantLimits = applyLimitsPatch(own, patch)
  const perUser =
    patch.per_user === null ? {} : applyLimitsPatch(currentPerUser ?? {}, patch.per_user ?? {})
  if (Object.keys(perUser).length > 0) next.per_user = perUser
  return next
}

/** Reads a stored JSON limit set. A malformed value throws: it must never read as "no limits". */
export function parseStoredLimits(json: string | null): TenantLimits {
  if (!json) return {}
  const parsed = v.safeParse(tenantLimitsPatchSchema, JSON.parse(json))
  if (!parsed.success) throw new Error('stored limits do not match the schema')
  return applyTenantLimitsPatch({}, parsed.output)
}

/** True when the set limits nothing. */
export function isUnlimited(limits: Limits | undefined): boolean {
  return !limits || LIMIT_FIELDS.every((field) => limits[field] === undefined)
}
