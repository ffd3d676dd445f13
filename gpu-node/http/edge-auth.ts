/**
 * @module
 * Only the edge may use a GPU node: every request must be signed with `GPU_NODE_SECRET` (shared/signing.ts:
 * HMAC-SHA256 over method, path, timestamp, nonce and body digest). A request with a missing, stale,
 * replayed, tampered or forged signature gets the same 401; the log line says which check failed, never a
 * secret or a signature. Two secrets are accepted at once, so the edge and the nodes can rotate without
 * downtime.
 */
import type { MiddlewareHandler } from 'hono'
import { NonceCache, verifyRequest } from '../../shared/signing.ts'
import { NodeError } from './errors.ts'

export interface EdgeAuthOptions {
  /** `current` and, during a rotation, `previous`. */
  secrets: readonly string[]
  log(line: Record<string, unknown>): void
  /** Shared by every route of one node, so a nonce used on one path cannot be replayed on another. */
  nonces?: NonceCache
}

/**
 * @example app.use('/v1/*', edgeAuth({ secrets: config.secrets, log }))
 */
export const edgeAuth = (options: EdgeAuthOptions): MiddlewareHandler => {
  const secrets = options.secrets.filter((secret) => secret !== '')
  if (secrets.length === 0) throw new Error('edgeAuth needs a non-empty secret')
  const nonces = options.nonces ?? new NonceCache()
  return async function edgeAuth(c, next) {
    const url = new URL(c.req.url)
    // The body is read once here (Hono caches it for the route). Routes mounted before this middleware
    // (bodyLimit) bound its size, so an unsigned caller cannot make the node buffer much.
    const body = new Uint8Array(await c.req.arrayBuffer())
    const result = await verifyRequest({
      method: c.req.method,
      path: `${url.pathname}${url.search}`,
      body,
      header: (name) => c.req.header(name),
      secrets,
      nonces,
    })
    if (!result.ok) {
      options.log({
        level: 'warn',
        msg: 'rejected a request that is not signed by the edge',
        reason: result.reason,
        method: c.req.method,
        path: url.pathname,
        requestId: c.get('requestId') as string | undefined,
      })
      throw new NodeError(
        'unauthorized_edge',
        'This GPU node accepts requests signed by the gemma-edge worker only.',
      )
    }
    await next()
  }
}
