/**
 * @module
 * Only the edge may use a GPU node: requests must carry `Authorization: Bearer <GPU_NODE_SECRET>`.
 * Compared as SHA-256 digests with `timingSafeEqual`, so neither the secret's length nor its prefix leaks
 * through timing. The secret never appears in a log or a response.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { MiddlewareHandler } from 'hono'
import { NodeError } from './errors.ts'

/** @example app.use('/v1/*', edgeAuth(config.secret)) */
export const edgeAuth = (secret: string): MiddlewareHandler => {
  if (!secret) throw new Error('edgeAuth needs a non-empty secret')
  const expected = digest(secret)
  return async function edgeAuth(c, next) {
    const header = c.req.header('authorization') ?? ''
    const match = /^Bearer\s+(.+)$/i.exec(header)
    if (!match || !timingSafeEqual(digest(match[1]!.trim()), expected)) {
      throw new NodeError(
        'unauthorized_edge',
        'This GPU node accepts requests from the gemma-edge worker only.',
      )
    }
    await next()
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest()
}
