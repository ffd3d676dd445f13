/**
 * @module
 * OpenAI's rate-limit headers (openai-wire.md §1) on every authenticated response: `x-ratelimit-limit-*`,
 * `-remaining-*` and `-reset-*` (Go-style durations) for requests and tokens per minute, plus
 * `x-budget-{limit,remaining,reset}-tokens` for the daily/monthly budget. Each family reports the tightest
 * of the tenant's, the key's and the end user's limits; a family nothing limits is left out.
 */
import type { MiddlewareHandler } from 'hono'
import type { LimitState, RateSnapshot } from '../durable-objects/limiter-types.ts'
import type { AppEnv } from '../env.ts'
import { goDuration } from './windows.ts'

const FAMILIES = [
  ['requests', 'x-ratelimit-', '-requests'],
  ['tokens', 'x-ratelimit-', '-tokens'],
  ['budget', 'x-budget-', '-tokens'],
] as const

/**
 * The headers for a snapshot.
 * @example rateLimitHeaders({ requests: { limit: 60, remaining: 59, resetMs: 1000 } })
 * // { 'x-ratelimit-limit-requests': '60', 'x-ratelimit-remaining-requests': '59', 'x-ratelimit-reset-requests': '1s' }
 */
export function rateLimitHeaders(snapshot: RateSnapshot): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const [family, prefix, suffix] of FAMILIES) {
    const state: LimitState | undefined = snapshot[family]
    if (!state) continue
    headers[`${prefix}limit${suffix}`] = String(state.limit)
    headers[`${prefix}remaining${suffix}`] = String(state.remaining)
    headers[`${prefix}reset${suffix}`] = goDuration(state.resetMs)
  }
  return headers
}

/**
 * Adds the headers once the route is done: the state after this request's reservation when it made one
 * (`c.var.rateLimit`), else the state seen at authentication. Mount it before `apiKeyAuth`.
 * @example app.use('/v1/*', rateLimitHeadersMiddleware())
 */
export const rateLimitHeadersMiddleware = (): MiddlewareHandler<AppEnv> => {
  return async function addRateLimitHeaders(c, next) {
    await next()
    const snapshot = c.get('rateLimit') ?? c.get('tenant')?.rateSnapshot
    if (!snapshot) return
    for (const [name, value] of Object.entries(rateLimitHeaders(snapshot))) c.header(name, value)
  }
}
