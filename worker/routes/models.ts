/**
 * @module
 * `GET /v1/models` and `GET /v1/models/{model}`: the one served model, as OpenAI lists and retrieves
 * models, and only for a key that may use it (its `allowed_models`): what a key sees is what it can call.
 * The `gemma_edge` block says whether the node serves random contract weights; it is learned from a node's
 * `/health` and omitted when no node answers (the list itself does not depend on a node being up).
 */
import type { Context } from 'hono'
import type { ModelCard } from '../../shared/openai.ts'
import { MODEL_CONTEXT_TOKENS, MODEL_ID, isServedModel } from '../../shared/protocol.ts'
import { modelAllowed } from '../durable-objects/tenant-config.ts'
import type { AppEnv } from '../env.ts'
import { NotFoundError } from '../errors.ts'
import { probeFleet } from '../routing/node-health.ts'

/** Gemma 3n's public release, 2025-06-26T00:00:00Z: a stable `created` for the model card. */
export const MODEL_CREATED = 1_750_896_000

/** Whether the request's key may use the served model: the check its reservation makes for chat. */
const keyMayUseModel = (c: Context<AppEnv>) => modelAllowed(c.get('tenant'), MODEL_ID)

async function modelCard(c: Context<AppEnv>): Promise<ModelCard> {
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
  return card
}

/** `GET /v1/models`; mounted after `apiKeyAuth`. */
export async function models(c: Context<AppEnv>): Promise<Response> {
  return c.json({ object: 'list', data: keyMayUseModel(c) ? [await modelCard(c)] : [] })
}

/** `GET /v1/models/{model}` (the SDK's `models.retrieve`); mounted after `apiKeyAuth`. */
export async function model(c: Context<AppEnv>): Promise<Response> {
  const id = c.req.param('model') ?? ''
  if (!isServedModel(id) || !keyMayUseModel(c)) {
    throw new NotFoundError(
      `The model '${id.slice(0, 100)}' does not exist or you do not have access to it.`,
      'model_not_found',
      'model',
    )
  }
  return c.json(await modelCard(c))
}
