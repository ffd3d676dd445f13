/**
 * @module
 * One structured log line per request: id, tenant, route, status, how the node stream ended, the node's
 * exact token counts and the duration. For streams the line is written when the stream ends (`waitUntil`),
 * so the counts are the real ones. Never logs keys, secrets, node URLs or message content.
 */
import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../env.ts'
import type { RelayOutcome } from '../streaming/relay.ts'

/**
 * @example
 * app.use('*', requestLog())
 */
export const requestLog = (): MiddlewareHandler<AppEnv> => {
  return async function requestLog(c, next) {
    const started = Date.now()
    await next()
    const base = {
      msg: 'request',
      request_id: c.get('requestId'),
      tenant_id: c.get('tenant')?.id ?? null,
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
    }
    const write = (outcome: RelayOutcome | null) =>
      console.log(
        JSON.stringify({
          ...base,
          ending: outcome?.ending ?? null,
          prompt_tokens: outcome?.usage?.prompt_tokens ?? null,
          completion_tokens: outcome?.usage?.completion_tokens ?? null,
          ms: Date.now() - started,
        }),
      )
    // Set by the chat route for a stream, a completion, or a client that left (499) before either.
    const outcome = c.get('outcome')
    if (outcome) c.executionCtx.waitUntil(outcome.then(write))
    else write(null)
  }
}
