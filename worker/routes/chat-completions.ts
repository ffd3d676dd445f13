/**
 * @module
 * `POST /v1/chat/completions`: validate → clamp → pick a node → relay its stream (streaming client) or
 * aggregate it (non-streaming client). Thin on purpose: each step lives in its own module.
 */
import type { Context } from 'hono'
import { validateChat } from '../chat/validate-chat.ts'
import type { AppEnv } from '../env.ts'
import { GatewayError } from '../errors.ts'
import { NodePool } from '../routing/node-pool.ts'
import { openNodeStream } from '../routing/node-request.ts'
import { aggregateCompletion } from '../streaming/aggregate.ts'
import { relayNodeStream } from '../streaming/relay.ts'

/** The route handler; mounted after `apiKeyAuth` and `jsonBody`. */
export async function chatCompletions(c: Context<AppEnv>): Promise<Response> {
  const { request, nodeBody } = validateChat(c.get('jsonBody'))
  const node = NodePool.fromEnv(c.env.GPU_NODES).pickNode()
  if (!node) throw new GatewayError('no_capacity', 'No GPU node is configured.')
  const requestId = c.get('requestId')
  const source = await openNodeStream({
    node,
    body: nodeBody,
    secret: c.env.GPU_NODE_SECRET,
    requestId,
    tenantId: c.get('tenant').id,
    signal: c.req.raw.signal,
  })

  if (!request.stream) {
    const completion = await aggregateCompletion(source)
    c.set('outcome', Promise.resolve({ ending: 'done', usage: completion.usage }))
    return c.json(completion)
  }

  const relay = relayNodeStream(source, { includeUsage: request.includeUsage })
  c.set('outcome', relay.outcome)
  return new Response(relay.body, {
    headers: {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      'x-request-id': requestId,
    },
  })
}
