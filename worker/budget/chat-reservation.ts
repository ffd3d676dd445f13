/**
 * @module
 * The budget step of a chat request: reserve in the tenant's Durable Object before the GPU node is called
 * (or throw the 429), keep the reservation's lease alive while the request runs, and settle it exactly once
 * with what was really used. If the worker dies, the lease runs out and the object's alarm settles it.
 * The reservation is also the key's authorization (the 401 of a revoked key, the 403 of a model the key
 * may not use): one Durable Object round trip where there were two, on the way to the first token.
 */
import type { Context } from 'hono'
import type { ChatRequest } from '../../shared/chat-request.ts'
import { limiterFor } from '../durable-objects/limiter-stub.ts'
import type { Charge } from '../durable-objects/limiter-types.ts'
import type { AppEnv } from '../env.ts'
import { AuthenticationError, GatewayError } from '../errors.ts'
import { countMedia } from '../media/media-tokens.ts'
import { tenantOf } from '../tenancy/tenant-key-store.ts'
import { promptTokensUpperBound } from './prompt-estimate.ts'
import { refusalError } from './refusal-error.ts'

/** How a request ended, for the charge and the usage record. */
export interface Settlement {
  charge: Charge
  status: number
  outcome: string
  ttftMs: number | null
}

export interface ChatReservation {
  /** The `max_completion_tokens` to send to the node (≤ the clamp; lower only if the client set none). */
  completionTokens: number
  /** Charges the tenant and queues the usage record; later calls do nothing. */
  settle(settlement: Settlement): Promise<void>
}

const MODEL_NOT_ALLOWED = { status: 403, type: 'invalid_request_error', code: 'model_not_allowed' }

/**
 * Reserves prompt (upper bound) + completion tokens for `request` and sets `c.var.tenant`; throws the
 * refusal as a `GatewayError`.
 * @example
 * const reservation = await reserveChat(c, request, nodeBody.max_completion_tokens)
 * c.executionCtx.waitUntil(outcome.then((o) => reservation.settle(settlementOf(o))))
 */
export async function reserveChat(
  c: Context<AppEnv>,
  request: ChatRequest,
  maxCompletionTokens: number,
  audioSeconds = 0,
): Promise<ChatReservation> {
  const owner = c.get('keyOwner')
  const startedAt = Date.now()
  const media = countMedia(request)
  const stub = limiterFor(c.env, owner.tenantId)
  const result = await stub.reserve({
    tenantId: owner.tenantId,
    keyId: owner.keyId,
    user: request.user,
    promptTokens: promptTokensUpperBound(request),
    maxCompletionTokens,
    flexibleCompletion: request.maxCompletionTokens === null,
    record: {
      requestId: c.get('requestId'),
      keyId: owner.keyId,
      endUser: request.user,
      model: request.model,
      images: media.images,
      audioClips: media.clips,
      audioSeconds,
      startedAt,
    },
  })
  if ('grant' in result) c.set('tenant', tenantOf(result.grant))
  if (!result.ok) {
    if (result.refusal === null) {
      // Revoked or expired: the same 401 as at the door.
      if (result.denied === 'key') throw new AuthenticationError('Incorrect API key provided.')
      throw new GatewayError(MODEL_NOT_ALLOWED, 'This API key may not use this model.', {
        param: 'model',
      })
    }
    c.set('rateLimit', result.snapshot)
    throw refusalError(result.refusal)
  }
  c.set('rateLimit', result.snapshot)
  const { reservationId } = result
  const renewal = setInterval(
    () => void stub.renew(reservationId).catch(() => undefined),
    result.leaseMs / 3,
  )
  let settled = false
  return {
    completionTokens: result.completionTokens,
    async settle(settlement) {
      if (settled) return
      settled = true
      clearInterval(renewal)
      await stub.commit({
        reservationId,
        ...settlement,
        latencyMs: Date.now() - startedAt,
      })
    },
  }
}
