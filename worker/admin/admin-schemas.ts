/**
 * @module
 * valibot schemas of the admin API's bodies (architecture.md, "Admin API"). Unknown fields are refused so a
 * typo (`rmp`) cannot silently do nothing.
 */
import * as v from 'valibot'
import { IMPORTED_KEY_PATTERN } from '../tenancy/key-material.ts'
import { limitsPatchSchema, tenantLimitsPatchSchema } from '../tenancy/limits.ts'

const name = v.pipe(
  v.string(),
  v.trim(),
  v.minLength(1, 'must not be empty'),
  v.maxLength(200, 'must be at most 200 characters'),
)

/** The last second of year 9999: a larger "Unix seconds" value is almost surely milliseconds. */
const MAX_UNIX_SECONDS = 253_402_300_799

/** Whether the date part of an ISO 8601 string exists (JavaScript would read 02-30 as March 2). */
function realCalendarDate(text: string): boolean {
  const [year, month, day] = text.slice(0, 10).split('-').map(Number) as [number, number, number]
  const date = new Date(Date.UTC(year, month - 1, day))
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day
}

/** Unix seconds or an ISO 8601 date-time; read as Unix milliseconds, and only in the future. */
const futureTime = v.pipe(
  v.union([
    v.pipe(
      v.number(),
      v.integer('must be whole Unix seconds'),
      v.maxValue(MAX_UNIX_SECONDS, 'must be Unix seconds; this looks like milliseconds'),
      v.transform((s) => s * 1000),
    ),
    v.pipe(
      v.string(),
      v.isoTimestamp(
        'must be an ISO 8601 date-time with a time zone (2027-01-01T00:00:00Z) or Unix seconds',
      ),
      v.check(realCalendarDate, 'is not a calendar date'),
      v.transform((s) => Date.parse(s)),
    ),
  ]),
  v.check((ms) => ms > Date.now(), 'must be in the future'),
)

export const createTenantSchema = v.strictObject({
  name,
  limits: v.optional(tenantLimitsPatchSchema),
})

export const createKeySchema = v.strictObject({
  name: v.optional(name),
  expires_at: v.nullish(futureTime),
  allowed_models: v.nullish(
    v.pipe(
      v.array(v.pipe(v.string(), v.minLength(1, 'must be a model id, not empty'))),
      v.minLength(1, 'must list at least one model'),
    ),
  ),
  limits: v.optional(limitsPatchSchema),
  /** Import this exact key instead of generating one (development keys such as DEV_API_KEY). */
  key: v.optional(
    v.pipe(
      v.string(),
      v.regex(IMPORTED_KEY_PATTERN, 'must be 16 to 256 characters of A-Z a-z 0-9 - . _ ~ + /'),
    ),
  ),
})

export const rotateKeySchema = v.strictObject({
  /** How long the old key keeps working; 0 (the default) revokes it at once. */
  grace_seconds: v.optional(
    v.pipe(
      v.number(),
      v.integer('must be a whole number'),
      v.minValue(0, 'must be 0 or more'),
      v.maxValue(7 * 86_400, 'must be at most 604800 (7 days)'),
    ),
  ),
})

export { limitsPatchSchema, tenantLimitsPatchSchema }
