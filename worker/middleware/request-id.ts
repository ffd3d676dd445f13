/**
 * @module
 * Request ids: accept a well-formed `x-request-id` from the client (so its logs and ours line up), otherwise
 * mint `req_<32 hex>`. The id is stored in `c.var.requestId`, forwarded to the GPU node and echoed on every
 * response, error responses included, and exposed to browsers via `access-control-expose-headers`.
 */
import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../env.ts'

export const REQUEST_ID_HEADER = 'x-request-id'

/** Characters a client-chosen id may use; anything else could inject into logs or headers. */
const CLIENT_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/

/** `req_` plus 16 random bytes in hex, the shape OpenAI uses. */
export function generateRequestId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  return `req_${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`
}

/**
 * Assigns and echoes the request id. Mount it first so every later error still carries the id.
 * @example
 * app.use('*', requestId())
 */
export const requestId = (): MiddlewareHandler<AppEnv> => {
  return async function requestId(c, next) {
    const fromClient = c.req.header(REQUEST_ID_HEADER)
    const id = fromClient && CLIENT_ID_PATTERN.test(fromClient) ? fromClient : generateRequestId()
    c.set('requestId', id)
    await next()
    c.header(REQUEST_ID_HEADER, id)
    c.header('access-control-expose-headers', REQUEST_ID_HEADER)
  }
}
