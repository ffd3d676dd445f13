/**
 * @module
 * Who may read `GET /metrics`: the edge, by its signature as on every other route, or a Prometheus scraper
 * with `GPU_NODE_METRICS_TOKEN` as a bearer token. A scraper sends the same headers every time and cannot
 * sign (a signature holds a fresh timestamp and nonce, and a replay is refused), so without the token the
 * metrics could not be scraped at all. The token opens the metrics only, never the chat route.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { MiddlewareHandler } from 'hono'
import { NodeError } from './errors.ts'

/** Equal-length digests, so the comparison takes the same time whatever the token's length. */
const digest = (text: string) => createHash('sha256').update(text).digest()

/**
 * @param token `GPU_NODE_METRICS_TOKEN`, or `null` (signed requests only)
 * @param signed the edge's signature check, for requests without a bearer token
 * @example app.use('/metrics', metricsAuth(config.metricsToken, edgeAuth(options)))
 */
export const metricsAuth = (token: string | null, signed: MiddlewareHandler): MiddlewareHandler =>
  async function metricsAuth(c, next) {
    const bearer = /^Bearer +(\S+)$/i.exec(c.req.header('authorization')?.trim() ?? '')?.[1]
    if (token === null || bearer === undefined) return signed(c, next)
    if (!timingSafeEqual(digest(bearer), digest(token))) {
      throw new NodeError('unauthorized_edge', 'The metrics token is not valid.')
    }
    await next()
  }
