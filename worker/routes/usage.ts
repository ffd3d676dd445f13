/**
 * @module
 * `GET /v1/usage?start=YYYY-MM-DD&end=YYYY-MM-DD`: the calling tenant's usage per UTC day (all its keys),
 * from the usage records in D1. Records are written shortly after each request ends.
 */
import type { Context } from 'hono'
import type { AppEnv } from '../env.ts'
import { dailyUsage, usageRange } from '../tenancy/usage-query.ts'

/** The route handler; mounted after `apiKeyAuth`. */
export async function usage(c: Context<AppEnv>): Promise<Response> {
  const range = usageRange(c)
  const data = await dailyUsage(c.env.DB, c.get('tenant').id, range)
  return c.json({ object: 'list', ...range, data })
}
