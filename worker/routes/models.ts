/**
 * @module
 * `GET /v1/models`: the one served model, as OpenAI lists models. The `gemma_edge` block says whether the
 * node serves random contract weights; it is learned from a node's `/health` and omitted when no node answers
 * (the list itself does not depend on a node being up).
 */
import type { Context } from 'hono'
import type { ModelCard } from '../../shared/openai.ts'
import { MODEL_CONTEXT_TOKENS, MODEL_ID } from '../../shared/protocol.ts'
import type { AppEnv } from '../env.ts'
import { probeFleet } from '../routing/node-health.ts'

/** Gemma 3n's public release, 2025-06-26T00:00:00Z: a stable `created` for the model card. */
export const MODEL_CREATED = 1_750_896_000

/** The route handler; mounted after `apiKeyAuth`. */
export async function models(c: Context<AppEnv>): Promise<Response> {
  const card: ModelCard = {
    id: MODEL_ID,
    object: 'model',
    created: MODEL_CREATED,
    owned_by: 'google',
  }
  const health = (await probeFleet(c.env, c.get('requestId'))).healthy[0] ?? null
  if (health) {
    card.gemma_edge = {
      contract_model: health.model.contract_model,
      note: health.model.note,
      context_length: MODEL_CONTEXT_TOKENS,
    }
  }
  return c.json({ object: 'list', data: [card] })
}
