/**
 * @module
 * The gemma-edge Worker: an OpenAI-compatible API in front of the GPU nodes. This file only wires the app:
 * middleware order (request id first so every response carries it, then the log line, then the rate-limit
 * headers, then auth), routes, the admin API, 405s for known paths, the OpenAI-shaped 404, and `onError`,
 * the only place errors become responses. It also exports the Durable Object classes (tenant limiter,
 * GPU node registry).
 */
import { Hono } from 'hono'
import type { Context } from 'hono'
import { CHAT_LIMITS } from '../shared/chat-request.ts'
import { HEARTBEAT_PATH } from '../shared/protocol.ts'
import { adminApp } from './admin/admin-app.ts'
import { rateLimitHeadersMiddleware } from './budget/rate-limit-headers.ts'
import type { AppEnv } from './env.ts'
import { MethodNotAllowedError, NotFoundError, toErrorResponse, toGatewayError } from './errors.ts'
import { apiKeyAuth } from './middleware/api-key-auth.ts'
import { jsonBody } from './middleware/json-body.ts'
import { requestId } from './middleware/request-id.ts'
import { requestLog } from './middleware/request-log.ts'
import { playgroundApp } from './playground/playground-app.ts'
import { chatCompletions } from './routes/chat-completions.ts'
import { health } from './routes/health.ts'
import { internalHeartbeat } from './routes/internal-heartbeat.ts'
import { model, models } from './routes/models.ts'
import { usage } from './routes/usage.ts'
import { createHashedKeyStore } from './tenancy/hashed-key-store.ts'

export { NodeRegistry } from './durable-objects/node-registry.ts'
export { TenantLimiter } from './durable-objects/tenant-limiter.ts'

const app = new Hono<AppEnv>()

app.use('*', requestId())
app.use('*', requestLog())

app.onError((error, c) => {
  const gatewayError = toGatewayError(error)
  if (gatewayError.status >= 500) {
    // The cause stays in the log (never in the body); it holds no keys (they never enter an error).
    console.error(
      JSON.stringify({
        msg: 'request failed',
        request_id: c.get('requestId'),
        code: gatewayError.code,
        error: String(gatewayError.cause ?? gatewayError.message),
      }),
    )
  }
  return toErrorResponse(gatewayError, c.get('requestId'))
})

app.notFound((c) => {
  throw new NotFoundError(`Unknown route: ${c.req.method} ${c.req.path.slice(0, 200)}`)
})

/** Answers 405 for a known path with a method it does not serve. */
const onlyAllow =
  (...methods: string[]) =>
  (c: Context<AppEnv>): never => {
    throw new MethodNotAllowedError(c.req.method, methods)
  }

app.get('/health', health)
app.all('/health', onlyAllow('GET', 'HEAD'))

app.use('/v1/*', rateLimitHeadersMiddleware())
// Chat authorizes the key in its budget reservation: one Durable Object round trip before the node.
const chatPath = '/v1/chat/completions'
app.use(
  '/v1/*',
  apiKeyAuth({
    storeFor: createHashedKeyStore,
    authorizesItself: (c) => c.req.method === 'POST' && c.req.path === chatPath,
  }),
)
app.post(chatPath, jsonBody({ maxBytes: CHAT_LIMITS.maxBodyBytes }), chatCompletions)
app.all(chatPath, onlyAllow('POST'))
app.get('/v1/models', models)
app.all('/v1/models', onlyAllow('GET', 'HEAD'))
app.get('/v1/models/:model', model)
app.all('/v1/models/:model', onlyAllow('GET', 'HEAD'))
app.get('/v1/usage', usage)
app.all('/v1/usage', onlyAllow('GET', 'HEAD'))

// GPU nodes announce themselves here; the signature is the authentication (routes/internal-heartbeat.ts).
app.post(HEARTBEAT_PATH, internalHeartbeat)
app.all(HEARTBEAT_PATH, onlyAllow('POST'))

app.route('/admin', adminApp)
app.route('/playground', playgroundApp)

export default app
