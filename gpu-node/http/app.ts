/**
 * @module
 * The GPU node's HTTP surface (Hono): `POST /v1/chat/completions` and `GET /metrics` behind the edge's
 * request signatures (the metrics also behind a scraper's bearer token, metrics-auth.ts), `GET /health`
 * open for load balancers and process supervisors. Only `onError` turns errors into responses.
 */
import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { requestId } from 'hono/request-id'
import { CHAT_LIMITS } from '../../shared/chat-request.ts'
import { NonceCache } from '../../shared/signing.ts'
import type { NodeHealth } from '../../shared/protocol.ts'
import { chatCompletions } from './chat-completions.ts'
import type { ChatRouteDeps } from './chat-completions.ts'
import { edgeAuth } from './edge-auth.ts'
import { metricsAuth } from './metrics-auth.ts'
import { asNodeError, NodeError, toErrorResponse } from './errors.ts'

export interface AppDeps extends ChatRouteDeps {
  /** `GPU_NODE_SECRET`: current and, during a rotation, previous. */
  secrets: readonly string[]
  /** `GPU_NODE_METRICS_TOKEN`: a scraper's bearer token for `/metrics`; `null` for signed requests only. */
  metricsToken: string | null
  health(): NodeHealth
  /** Prometheus text exposition. */
  metrics(): Promise<string>
  log(line: Record<string, unknown>): void
}

export function createApp(deps: AppDeps): Hono {
  const app = new Hono()
  app.use(requestId({ headerName: 'x-request-id' }))
  // 503 while draining, so load balancers and the edge stop sending work here.
  app.get('/health', (c) => {
    const health = deps.health()
    return c.json(health, health.status === 'draining' ? 503 : 200)
  })
  // One nonce cache for every signed route; the size limit comes first so the signature check (which
  // reads the body) never buffers more than a chat request may hold.
  const auth = edgeAuth({ secrets: deps.secrets, log: deps.log, nonces: new NonceCache() })
  const limit = bodyLimit({
    maxSize: CHAT_LIMITS.maxBodyBytes,
    onError: () => {
      throw new NodeError(
        'payload_too_large',
        `The request body is over ${CHAT_LIMITS.maxBodyBytes} bytes.`,
      )
    },
  })
  app.use('/v1/*', limit, auth)
  app.use('/metrics', limit, metricsAuth(deps.metricsToken, auth))
  app.get('/metrics', async (c) =>
    c.body(await deps.metrics(), 200, {
      'content-type': 'text/plain; version=0.0.4; charset=utf-8',
    }),
  )
  app.post('/v1/chat/completions', chatCompletions(deps))
  app.notFound((c) =>
    toErrorResponse(
      new NodeError('not_found', `No route for ${c.req.method} ${c.req.path}.`),
      c.get('requestId') ?? null,
    ),
  )
  app.onError((error, c) => {
    const nodeError = asNodeError(error)
    if (nodeError.kind === 'overloaded') {
      // Load shedding (a full queue, a drain) is the node working as configured: one line, no stack.
      deps.log({ level: 'warn', requestId: c.get('requestId'), error: nodeError.message })
    } else if (nodeError.status >= 500) {
      deps.log({
        level: 'error',
        requestId: c.get('requestId'),
        error: String(error),
        stack: (error as Error).stack,
      })
    }
    return toErrorResponse(nodeError, c.get('requestId') ?? null)
  })
  return app
}
