/**
 * @module
 * The budget step of a chat request: reserve in the tenant's Durable Object before the GPU node is called
 * (or throw the 429), keep the reservation's lease alive while the request runs, and settle it exactly once
 * with what was really used. If the worker dies, the lease runs out and the object's alarm settles it.
 */
import type { Context } from 'hono'
import type { ChatRequest } from '../../shared/chat-request.ts'
import { limiterFor } from '../durable-objects/limiter-stub.ts'
import type { Charge } from '../durable-objects/limiter-types.ts'
import type { AppEnv } from '../env.ts'
import { AuthenticationError, GatewayError } from '../errors.ts'
import { countMedia } from '../media/media-tokens.ts'
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
 * Reserves prompt (upper bound) + completion tokens for `request`; throws the refusal as a `GatewayError`.
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
  const tenant = c.get('tenant')
  const allowed = tenant.allowedModels
  if (allowed && !allowed.some((model) => model.toLowerCase() === request.model.toLowerCase())) {
    throw new GatewayError(MODEL_NOT_ALLOWED, 'This API key may not use this model.', {
      param: 'model',
    })
  }
  const startedAt = Date.now()
  const media = countMedia(request)
  const stub = limiterFor(c.env.TENANT_LIMITER, tenant.id)
  const result = await stub.reserve({
    tenantId: tenant.id,
    keyId: tenant.keyId,
    user: request.user,
    promptTokens: promptTokensUpperBound(request),
    maxCompletionTokens,
    flexibleCompletion: request.maxCompletionTokens === null,
    record: {
      requestId: c.get('requestId'),
      keyId: tenant.keyId,
      endUser: request.user,
      model: request.model,
      images: media.images,
      audioClips: media.clips,
      audioSeconds,
      startedAt,
    },
  })
  if (!result.ok) {
    // Revoked between authentication and now: the same 401 as at the door.
    if (result.refusal === null) throw new AuthenticationError('Incorrect API key provided.')
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
