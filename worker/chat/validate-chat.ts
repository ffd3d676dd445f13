/**
 * @module
 * Turns the parsed JSON body into what the edge forwards: the validated `ChatRequest` (shared validator, so
 * edge and node refuse the same inputs the same way), the model check, the token clamp, and the node body
 * with its images and audio shaped (worker/media: downscaled JPEG data: URLs, 16 kHz mono WAV).
 */
import type { ChatRequest } from '../../shared/chat-request.ts'
import { parseChatRequest } from '../../shared/chat-request.ts'
import { MODEL_ID } from '../../shared/protocol.ts'
import { BadRequestError, NotFoundError } from '../errors.ts'
import { countMediaParts, shapeMessages } from '../media/shape-messages.ts'
import type { MediaShapingOptions, MediaStats } from '../media/shape-messages.ts'
import { clampCompletionTokens } from './token-bounds.ts'

/** A request the edge accepted, and the exact JSON body the node gets. */
export interface ValidatedChat {
  request: ChatRequest
  nodeBody: Record<string, unknown>
  /** Media parts and their bytes as received and as forwarded. */
  media: MediaStats
}

/** Model ids are compared case-insensitively: `gemma-3n-E2B-it` (Google's spelling) is the same model. */
function isServedModel(model: string): boolean {
  return model.toLowerCase() === MODEL_ID
}

/**
 * Validates the body and shapes its media, or throws the 400/404 the client should see. Cheap checks
 * (schema, model, media counts, context) run before any media is decoded.
 * @example
 * const { request, nodeBody } = await validateChat(c.get('jsonBody'), { images: c.env.IMAGES })
 */
export async function validateChat(
  body: unknown,
  media: MediaShapingOptions = {},
): Promise<ValidatedChat> {
  const parsed = parseChatRequest(body)
  if (!parsed.ok) {
    const { message, param, unsupported } = parsed.problem
    throw new BadRequestError(
      message,
      param,
      unsupported ? 'unsupported_parameter' : 'invalid_request',
    )
  }
  const { request } = parsed
  if (!isServedModel(request.model)) {
    throw new NotFoundError(
      `The model '${request.model.slice(0, 100)}' does not exist; this gateway serves '${MODEL_ID}'.`,
      'model_not_found',
      'model',
    )
  }
  countMediaParts(request)
  const maxCompletionTokens = clampCompletionTokens(request)
  if (maxCompletionTokens === null) {
    throw new BadRequestError(
      'The messages alone exceed the model context length.',
      'messages',
      'context_length_exceeded',
    )
  }
  // Everything else goes to the node as the client sent it (parseChatRequest has validated it). The node
  // always streams with usage, so the edge sees exact usage whatever the client asked for.
  // `max_tokens` is deprecated and already folded into `max_completion_tokens`.
  const rest: Record<string, unknown> = { ...(body as Record<string, unknown>) }
  delete rest.max_tokens
  const wireMessages = rest.messages as Record<string, unknown>[]
  const shaped = await shapeMessages(request, wireMessages, media)
  const nodeBody = {
    ...rest,
    messages: shaped.messages,
    model: MODEL_ID,
    stream: true,
    stream_options: { include_usage: true },
    max_completion_tokens: maxCompletionTokens,
  }
  return { request, nodeBody, media: shaped.stats }
}
