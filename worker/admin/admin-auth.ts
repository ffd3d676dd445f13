/**
 * @module
 * Admin API authentication: `Authorization: Bearer <ADMIN_TOKEN>`. Both sides are hashed before the
 * timing-safe compare, so the compare always sees equal lengths and its time says nothing about the token.
 * Without `ADMIN_TOKEN` the admin API refuses every request.
 */
import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../env.ts'
import { GatewayError } from '../errors.ts'
import { parseBearer } from '../middleware/api-key-auth.ts'

const UNAUTHORIZED = { status: 401, type: 'authentication_error', code: 'invalid_admin_token' }

const encoder = new TextEncoder()
const sha256 = (text: string) => crypto.subtle.digest('SHA-256', encoder.encode(text))

/** Timing-safe equality of two strings of any lengths. */
export async function sameSecret(presented: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([sha256(presented), sha256(expected)])
  return crypto.subtle.timingSafeEqual(a, b)
}

/**
 * @example admin.use('*', adminAuth())
 */
export const adminAuth = (): MiddlewareHandler<AppEnv> => {
  return async function adminAuth(c, next) {
    const expected = c.env.ADMIN_TOKEN
    if (!expected) {
      throw new GatewayError(UNAUTHORIZED, 'The admin API is disabled: ADMIN_TOKEN is not set.')
    }
    const presented = parseBearer(c.req.header('authorization'))
    if (presented === null || !(await sameSecret(presented, expected))) {
      throw new GatewayError(
        UNAUTHORIZED,
        "Missing or wrong admin token ('Authorization: Bearer <ADMIN_TOKEN>').",
      )
    }
    await next()
  }
}
