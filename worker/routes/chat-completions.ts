/**
 * @module
 * `POST /v1/chat/completions`: validate → clamp → reserve the tenant's budget → pick a node → relay its
 * stream (streaming client) or aggregate it (non-streaming client) → settle the reservation with the
 * node's exact usage. Thin on purpose: each step lives in its own module.
 * Settling: exact usage when the node reported it; nothing when the node refused before streaming; the
 * whole reservation (the most that can have been generated) when a stream ended without usage.
 */
import type { Context } from 'hono'
import type { Usage } from '../../shared/openai.ts'
import { reserveChat } from '../budget/chat-reservation.ts'
import type { ChatReservation } from '../budget/chat-reservation.ts'
import { tapFirstToken } from '../budget/first-token-tap.ts'
import { validateChat } from '../chat/validate-chat.ts'
import type { Charge } from '../durable-objects/limiter-types.ts'
import type { AppEnv } from '../env.ts'
import { GatewayError, toGatewayError } from '../errors.ts'
import { NodePool } from '../routing/node-pool.ts'
import { openNodeStream } from '../routing/node-request.ts'
import { aggregateCompletion } from '../streaming/aggregate.ts'
import { relayNodeStream } from '../streaming/relay.ts'

function chargeFor(usage: Usage | null): Charge {
  return usage
    ? {
        kind: 'exact',
        promptTokens: usage.prompt_tokens,
        completionTokens: usage.completion_tokens,
      }
    : { kind: 'reserved' }
}

/** Opens the node stream; a refusal before the first byte settles with no charge, then rethrows. */
async function openOrRelease(
  c: Context<AppEnv>,
  reservation: ChatReservation,
  body: Record<string, unknown>,
) {
  const node = NodePool.fromEnv(c.env.GPU_NODES).pickNode()
  try {
    if (!node) throw new GatewayError('no_capacity', 'No GPU node is configured.')
    return await openNodeStream({
      node,
      body,
      secret: c.env.GPU_NODE_SECRET,
      requestId: c.get('requestId'),
      tenantId: c.get('tenant').id,
      signal: c.req.raw.signal,
    })
  } catch (error) {
    const status = toGatewayError(error).status
    const charge: Charge = { kind: 'none' }
    c.executionCtx.waitUntil(
      reservation.settle({ charge, status, outcome: 'node_refused', ttftMs: null }),
    )
    throw error
  }
}

/** The route handler; mounted after `apiKeyAuth` and `jsonBody`. */
export async function chatCompletions(c: Context<AppEnv>): Promise<Response> {
  const { request, nodeBody } = await validateChat(c.get('jsonBody'), { images: c.env.IMAGES })
  const reservation = await reserveChat(c, request, Number(nodeBody.max_completion_tokens))
  const started = Date.now()
  let ttftMs: number | null = null
  const source = tapFirstToken(
    await openOrRelease(c, reservation, {
      ...nodeBody,
      max_completion_tokens: reservation.completionTokens,
    }),
    () => (ttftMs = Date.now() - started),
  )

  if (!request.stream) {
    let completion
    try {
      completion = await aggregateCompletion(source)
    } catch (error) {
      const status = toGatewayError(error).status
      const settled = { charge: chargeFor(null), status, outcome: 'node_error', ttftMs }
      c.executionCtx.waitUntil(reservation.settle(settled))
      throw error
    }
    const charge = chargeFor(completion.usage)
    c.executionCtx.waitUntil(reservation.settle({ charge, status: 200, outcome: 'done', ttftMs }))
    c.set('outcome', Promise.resolve({ ending: 'done', usage: completion.usage }))
    return c.json(completion)
  }

  const relay = relayNodeStream(source, { includeUsage: request.includeUsage })
  c.set('outcome', relay.outcome)
  c.executionCtx.waitUntil(
    relay.outcome.then(({ ending, usage }) =>
      reservation.settle({ charge: chargeFor(usage), status: 200, outcome: ending, ttftMs }),
    ),
  )
  return new Response(relay.body, {
    headers: {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      'x-request-id': c.get('requestId'),
    },
  })
}
