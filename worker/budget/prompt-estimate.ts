/**
 * @module
 * An UPPER bound of a request's prompt tokens, for the reservation (the clamp in chat/token-bounds.ts needs
 * the opposite, a lower bound). Every Gemma token, byte-fallback ones included, spells at least one byte
 * of the input, so a text costs at most its UTF-8 byte count. Template and media tokens follow the Gemma 3n
 * chat template (gemma3n-contract.md): an image is `\n\n<start_of_image>` + 256 soft tokens +
 * `<end_of_image>\n\n`, an audio clip the same with 188 soft tokens.
 */
import type { ChatRequest } from '../../shared/chat-request.ts'
import { countMedia } from '../media/media-tokens.ts'

/** `<bos>` + `<start_of_turn>model\n` (the generation prompt), counted generously. */
const FIXED_TOKENS = 4
/** `<start_of_turn>` + role (≤ 5 bytes) + `\n` + `<end_of_turn>` + `\n`, plus `\n\n` when a system turn merges. */
const PER_MESSAGE_TOKENS = 12
/** 256 soft tokens and at most 6 for the markers and blank lines around them. */
export const IMAGE_TOKENS_MAX = 262
/** 188 soft tokens and at most 6 around them. */
export const AUDIO_TOKENS_MAX = 194

const encoder = new TextEncoder()

/**
 * Prompt tokens this request can never exceed.
 * @example promptTokensUpperBound(request) // 4 + 12 per message + UTF-8 bytes + media
 */
export function promptTokensUpperBound(request: ChatRequest): number {
  let tokens = FIXED_TOKENS
  for (const message of request.messages) {
    tokens += PER_MESSAGE_TOKENS
    if (typeof message.content === 'string') {
      tokens += encoder.encode(message.content).byteLength
      continue
    }
    for (const part of message.content) {
      if (part.type === 'text') tokens += encoder.encode(part.text).byteLength
    }
  }
  const { images, clips } = countMedia(request)
  return tokens + images * IMAGE_TOKENS_MAX + clips * AUDIO_TOKENS_MAX
}
