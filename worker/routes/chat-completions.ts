/**
 * @module
 * `POST /v1/chat/completions`: check → shape the media → reserve the tenant's budget → route to a node
 * (retrying other nodes before the first byte) → relay its stream (streaming client) or aggregate it
 * (non-streaming client) → settle the reservation. Thin on purpose: each step lives in its own module.
 * The reservation also authorizes the key (api-key-auth.ts); a request with media has its key authorized
 * before the shaping instead, so a revoked key never makes the edge decode or fetch anything.
 * Settling: the node's usage when it reported any (it reports the usage so far on every chunk, so a
 * stream that breaks is charged exactly what was generated); nothing when no node accepted; the whole
 * reservation (the most that can have been generated) only when a node accepted and reported nothing.
 * A client that goes away stops the node: a streaming one by cancelling the body, a non-streaming one
 * through the request's signal (wrangler.toml's `enable_request_signal`), which is all the runtime tells.
 */
import type { Context } from 'hono'
import type { Usage } from '../../shared/openai.ts'
import { reserveChat } from '../budget/chat-reservation.ts'
import type { ChatReservation, Settlement } from '../budget/chat-reservation.ts'
import { checkChat, shapeChat } from '../chat/validate-chat.ts'
import type { Charge } from '../durable-objects/limiter-types.ts'
import type { Lease } from '../durable-objects/node-registry.ts'
import type { AppEnv } from '../env.ts'
import { ClientClosedError, NodeReportedError, toGatewayError } from '../errors.ts'
import type { AttemptResult } from '../routing/node-pool.ts'
import { dropLease, prefetchLease, routeChat } from '../routing/route-request.ts'
import type { RoutedStream } from '../routing/route-request.ts'
import { aggregateCompletion } from '../streaming/aggregate.ts'
import { relayNodeStream } from '../streaming/relay.ts'
import type { RelayEnding } from '../streaming/relay.ts'

/** The response header naming the node that served the request (its id, never its URL). */
export const NODE_ID_HEADER = 'x-gemma-node'

function chargeFor(usage: Usage | null): Charge {
  return usage
    ? {
        kind: 'exact',
        promptTokens: usage.prompt_tokens,
        completionTokens: usage.completion_tokens,
      }
    : { kind: 'reserved' }
}

/** What a stream's ending says about its node, for the circuit breaker. */
function attemptResult(ending: RelayEnding): AttemptResult {
  if (ending === 'cut' || ending === 'stalled') return 'failure'
  return ending === 'cancelled' ? 'neutral' : 'ok'
}

/** Routes the request; when no node accepts, settles with no charge, then rethrows. */
async function routeOrRelease(
  c: Context<AppEnv>,
  reservation: ChatReservation,
  body: Record<string, unknown>,
  firstLease: Promise<Lease | null>,
): Promise<RoutedStream> {
  try {
    return await routeChat({
      env: c.env,
      body: JSON.stringify(body),
      requestId: c.get('requestId'),
      tenantId: c.get('tenant').id,
      signal: c.req.raw.signal,
      waitUntil: (promise) => c.executionCtx.waitUntil(promise),
      firstLease,
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
  const body = c.get('jsonBody')
  const checked = checkChat(body)
  // Decoding and fetching media is work a revoked key must not get: ask its Durable Object first.
  if (checked.media.images + checked.media.clips > 0) await c.get('authorizeKey')()
  const { request, nodeBody, media } = await shapeChat(checked, body, { images: c.env.IMAGES })
  // The node lease and the tenant's reservation are independent: ask for both at once.
  const firstLease = prefetchLease(c.env)
  let reservation: ChatReservation
  try {
    const maxTokens = Number(nodeBody.max_completion_tokens)
    reservation = await reserveChat(c, request, maxTokens, media.audioSeconds)
  } catch (error) {
    c.executionCtx.waitUntil(dropLease(c.env, firstLease))
    throw error
  }
  const timing = new FirstTokenTiming()
  const routed = await routeOrRelease(
    c,
    reservation,
    { ...nodeBody, max_completion_tokens: reservation.completionTokens },
    firstLease,
  )
  const answer = { routed, reservation, timing }
  return request.stream ? streamAnswer(c, answer, request.includeUsage) : completeAnswer(c, answer)
}

/** Times the first token from the moment the node is asked (the usage record's TTFT). */
class FirstTokenTiming {
  readonly #started = Date.now()
  ms: number | null = null
  readonly onFirstToken = () => (this.ms = Date.now() - this.#started)
}

interface Answer {
  routed: RoutedStream
  reservation: ChatReservation
  timing: FirstTokenTiming
}

/**
 * A non-streaming client: the node's stream read to its end into one completion. A client that leaves is
 * settled from the abort event itself, with the usage seen so far: Cloudflare documents an abort listener
 * as the place for such cleanup, and does not promise that the handler itself resumes once its client is
 * gone.
 */
async function completeAnswer(c: Context<AppEnv>, answer: Answer): Promise<Response> {
  const { routed, reservation, timing } = answer
  const seen: { usage: Usage | null } = { usage: null }
  const signal = c.req.raw.signal
  let settled = false
  const settle = (settlement: Settlement, result: AttemptResult) => {
    if (settled) return
    settled = true
    c.executionCtx.waitUntil(Promise.all([reservation.settle(settlement), routed.release(result)]))
  }
  const clientGone = () => {
    const charge = chargeFor(seen.usage)
    settle({ charge, status: 499, outcome: 'cancelled', ttftMs: timing.ms }, 'neutral')
  }
  signal.addEventListener('abort', clientGone, { once: true })
  let completion
  try {
    completion = await aggregateCompletion(routed.stream, {
      seen,
      onFirstToken: timing.onFirstToken,
      signal,
    })
  } catch (error) {
    if (error instanceof ClientClosedError) {
      clientGone()
      c.set('outcome', Promise.resolve({ ending: 'cancelled', usage: seen.usage }))
      throw error
    }
    const status = toGatewayError(error).status
    const charge = chargeFor(seen.usage)
    // A node that reported an error is alive; a stream that broke counts against the node.
    const result = error instanceof NodeReportedError ? 'ok' : 'failure'
    settle({ charge, status, outcome: 'node_error', ttftMs: timing.ms }, result)
    throw error
  } finally {
    signal.removeEventListener('abort', clientGone)
  }
  const charge = chargeFor(completion.usage)
  settle({ charge, status: 200, outcome: 'done', ttftMs: timing.ms }, 'ok')
  c.set('outcome', Promise.resolve({ ending: 'done', usage: completion.usage }))
  return c.json(completion, 200, { [NODE_ID_HEADER]: routed.node.id })
}

/** A streaming client: the node's stream relayed, and settled when it ends however it ends. */
function streamAnswer(c: Context<AppEnv>, answer: Answer, includeUsage: boolean): Response {
  const { routed, reservation, timing } = answer
  const relay = relayNodeStream(routed.stream, {
    includeUsage,
    onFirstToken: timing.onFirstToken,
    signal: c.req.raw.signal,
  })
  c.set('outcome', relay.outcome)
  c.executionCtx.waitUntil(
    relay.outcome.then(({ ending, usage }) =>
      Promise.all([
        reservation.settle({
          charge: chargeFor(usage),
          status: 200,
          outcome: ending,
          ttftMs: timing.ms,
        }),
        routed.release(attemptResult(ending)),
      ]),
    ),
  )
  const headers = {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    'x-request-id': c.get('requestId'),
    [NODE_ID_HEADER]: routed.node.id,
  }
  return new Response(relay.body, { headers })
}
