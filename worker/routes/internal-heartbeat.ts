/**
 * @module
 * `POST /internal/nodes/heartbeat`: a GPU node announces itself and its load, signed with its secret.
 * The NodeRegistry object verifies and records it (one nonce cache for the whole fleet). Refusals are
 * logged with their reason (never a secret or a signature) and answered in the OpenAI error shape; the
 * body says no more than "not signed" or "malformed", which is all a caller without the secret may learn.
 */
import type { Context } from 'hono'
import type { AppEnv } from '../env.ts'
import { BadRequestError, GatewayError, PayloadTooLargeError } from '../errors.ts'
import { HEARTBEAT_MAX_BYTES } from '../routing/heartbeat-check.ts'
import { registryOf } from '../routing/route-request.ts'

/** The signature headers and the content type; nothing else of the request reaches the registry. */
function headersOf(c: Context<AppEnv>): Record<string, string> {
  const headers: Record<string, string> = {}
  c.req.raw.headers.forEach((value, name) => {
    if (name.startsWith('x-gemma-')) headers[name] = value
  })
  return headers
}

/** The route handler (no tenant auth: the signature is the auth). */
export async function internalHeartbeat(c: Context<AppEnv>): Promise<Response> {
  const declared = Number(c.req.header('content-length') ?? '0')
  if (declared > HEARTBEAT_MAX_BYTES) throw new PayloadTooLargeError(HEARTBEAT_MAX_BYTES)
  const body = await c.req.text()
  if (body.length > HEARTBEAT_MAX_BYTES) throw new PayloadTooLargeError(HEARTBEAT_MAX_BYTES)
  const result = await registryOf(c.env).heartbeat({ body, headers: headersOf(c) })
  if (result.ok) return c.body(null, 204)
  console.warn(
    JSON.stringify({
      msg: 'heartbeat refused',
      request_id: c.get('requestId'),
      reason: result.reason,
    }),
  )
  if (result.status === 401) {
    throw new GatewayError('unauthorized_edge', 'The heartbeat is not signed by a known node.')
  }
  throw new BadRequestError('The heartbeat is malformed.')
}
