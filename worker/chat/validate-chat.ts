/**
 * @module
 * Turns the parsed JSON body into what the edge forwards, in two steps. `checkChat` is cheap and does no
 * I/O: the validated `ChatRequest` (shared validator, so edge and node refuse the same inputs the same way),
 * the model check, the media counts and the token clamp. `shapeChat` then builds the node body with its
 * images and audio shaped (worker/media: downscaled JPEG data: URLs, 16 kHz mono WAV), which may decode
 * megabytes and fetch remote images: the chat route makes sure the key is usable before that.
 */
import type { ChatRequest } from '../../shared/chat-request.ts'
import { parseChatRequest } from '../../shared/chat-request.ts'
import { MODEL_ID, isServedModel } from '../../shared/protocol.ts'
import { MODEL_SPEAKS_FIRST, modelSpeaksFirst } from '../../shared/turn-order.ts'
import { BadRequestError, NotFoundError } from '../errors.ts'
import { countMediaParts, shapeMessages } from '../media/shape-messages.ts'
import type { MediaShapingOptions, MediaStats } from '../media/shape-messages.ts'
import type { MediaCounts } from '../media/media-tokens.ts'
import { clampCompletionTokens } from './token-bounds.ts'

/** A request that passed the cheap checks. */
export interface CheckedChat {
  request: ChatRequest
  /** The clamped `max_completion_tokens`. */
  maxCompletionTokens: number
  /** Media parts in the request (images, audio clips), within the per-request limits. */
  media: MediaCounts
}

/** A request the edge accepted, and the exact JSON body the node gets. */
export interface ValidatedChat {
  request: ChatRequest
  nodeBody: Record<string, unknown>
  /** Media parts and their bytes as received and as forwarded. */
  media: MediaStats
}

/**
 * The checks that need no I/O (schema, model, media counts, context), or throws the 400/404 the client
 * should see.
 * @example
 * const checked = checkChat(c.get('jsonBody'))
 */
export function checkChat(body: unknown): CheckedChat {
  const parsed = parseChatRequest(body)
  if (!parsed.ok) {
    const { message, param, kind } = parsed.problem
    throw new BadRequestError(message, param, kind)
  }
  const { request } = parsed
  if (!isServedModel(request.model)) {
    throw new NotFoundError(
      `The model '${request.model.slice(0, 100)}' does not exist; this gateway serves '${MODEL_ID}'.`,
      'model_not_found',
      'model',
    )
  }
  // Refused here, before any budget is reserved or media shaped, rather than by the node after both.
  const opening = modelSpeaksFirst(request.messages)
  if (opening >= 0)
    throw new BadRequestError(MODEL_SPEAKS_FIRST, `messages[${opening}].role`, 'invalid_value')
  const media = countMediaParts(request)
  const maxCompletionTokens = clampCompletionTokens(request)
  if (maxCompletionTokens === null) {
    throw new BadRequestError(
      'The messages alone exceed the model context length.',
      'messages',
      'context_length_exceeded',
    )
  }
  return { request, maxCompletionTokens, media }
}

/**
 * The node body of a checked request, with its media shaped; throws the 400 of a bad image or clip.
 * @example
 * const { nodeBody } = await shapeChat(checked, c.get('jsonBody'), { images: c.env.IMAGES })
 */
export async function shapeChat(
  checked: CheckedChat,
  body: unknown,
  media: MediaShapingOptions = {},
): Promise<ValidatedChat> {
  const { request, maxCompletionTokens } = checked
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
