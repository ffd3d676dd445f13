/**
 * @module
 * Per-day usage aggregates from D1's `usage_records`, for `GET /v1/usage` (the tenant's own) and
 * `GET /admin/tenants/{id}/usage`. Days are UTC; the range is inclusive and at most 366 days.
 */
import type { Context } from 'hono'
import { utcDay } from '../budget/windows.ts'
import type { AppEnv } from '../env.ts'
import { BadRequestError } from '../errors.ts'

const DAY_MS = 86_400_000
const MAX_DAYS = 366
const DEFAULT_DAYS = 30
const DATE = /^\d{4}-\d{2}-\d{2}$/

export interface DailyUsage {
  date: string
  requests: number
  /** Requests a limit refused (429); they used no tokens. */
  refused_requests: number
  prompt_tokens: number
  completion_tokens: number
  /** What the budgets were charged: the node's exact counts, or a reservation where none arrived. */
  charged_tokens: number
  images: number
  audio_clips: number
  audio_seconds: number
}

export interface UsageRange {
  start: string
  end: string
}

function parseDay(value: string | undefined, param: string): number | null {
  if (value === undefined) return null
  const ms = Date.parse(`${value}T00:00:00Z`)
  // Date.parse reads 2026-02-30 as March 2: the day must come back as it was given.
  if (!DATE.test(value) || Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== value) {
    throw new BadRequestError(`'${param}' must be a calendar date as YYYY-MM-DD.`, param)
  }
  return ms
}

/** Reads `?start=&end=` (default: the last 30 days up to today) or throws a 400 naming the parameter. */
export function usageRange(c: Context<AppEnv>): UsageRange {
  const end = parseDay(c.req.query('end'), 'end') ?? Math.floor(Date.now() / DAY_MS) * DAY_MS
  const start = parseDay(c.req.query('start'), 'start') ?? end - (DEFAULT_DAYS - 1) * DAY_MS
  if (start > end) throw new BadRequestError("'start' must not be after 'end'.", 'start')
  if ((end - start) / DAY_MS + 1 > MAX_DAYS) {
    throw new BadRequestError(`The range may cover at most ${MAX_DAYS} days.`, 'start')
  }
  return { start: utcDay(start), end: utcDay(end) }
}

/**
 * @example const days = await dailyUsage(env.DB, tenantId, { start: '2026-01-01', end: '2026-01-31' })
 */
export async function dailyUsage(
  db: D1Database,
  tenantId: string,
  range: UsageRange,
  keyId: string | null = null,
): Promise<DailyUsage[]> {
  const { results } = await db
    .prepare(
      `SELECT day AS date, count(*) AS requests,
         sum(CASE WHEN status = 429 THEN 1 ELSE 0 END) AS refused_requests,
         sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens,
         sum(charged_tokens) AS charged_tokens, sum(images) AS images, sum(audio_clips) AS audio_clips,
         coalesce(sum(audio_seconds), 0) AS audio_seconds
       FROM usage_records
       WHERE tenant_id = ? AND day BETWEEN ? AND ? AND (? IS NULL OR key_id = ?)
       GROUP BY day ORDER BY day`,
    )
    .bind(tenantId, range.start, range.end, keyId, keyId)
    .all<DailyUsage>()
  return results
}
