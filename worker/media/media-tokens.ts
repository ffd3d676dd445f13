/**
 * @module
 * What media costs in prompt tokens (gemma3n-contract.md §5). The chat template renders each image as
 * `<image_soft_token>`, which the processor expands to `\n\n<start_of_image>` + 256 x
 * `<image_soft_token>` + `<end_of_image>\n\n`; audio the same with `<start_of_audio>`, 188 soft tokens and
 * `<end_of_audio>`. 188 is fixed per clip whatever its duration (the node's encoder pads to it).
 */
import type { ChatRequest } from '../../shared/chat-request.ts'

export const IMAGE_SOFT_TOKENS = 256
export const AUDIO_SOFT_TOKENS = 188
/** `<start_of_image>` + `<end_of_image>` (or the audio pair): special tokens, always exactly two. */
export const MEDIA_MARKER_TOKENS = 2
/**
 * The two `\n\n` runs around each item. A run of newlines is one token, but it merges with neighbouring
 * newlines (`user\n` + `\n\n` is the single token `\n\n\n`), so a run costs 0 to 1 extra tokens: the
 * estimate counts 2, the lower bound counts their 4 bytes as text bytes instead (see token-bounds.ts).
 */
export const MEDIA_NEWLINE_TOKENS = 2
export const MEDIA_NEWLINE_BYTES = 4

export interface MediaCounts {
  images: number
  clips: number
}

/** How many image and audio parts a request has (the one count every budget and limit uses). */
export function countMedia(request: ChatRequest): MediaCounts {
  const counts = { images: 0, clips: 0 }
  for (const message of request.messages) {
    if (typeof message.content === 'string') continue
    for (const part of message.content) {
      if (part.type === 'image_url') counts.images++
      else if (part.type === 'input_audio') counts.clips++
    }
  }
  return counts
}

/** Tokens the media of a prompt costs for certain: soft tokens and markers. */
export function mediaTokensLowerBound({ images, clips }: MediaCounts): number {
  return (
    images * (IMAGE_SOFT_TOKENS + MEDIA_MARKER_TOKENS) +
    clips * (AUDIO_SOFT_TOKENS + MEDIA_MARKER_TOKENS)
  )
}

/** The usual cost, newline runs included: 260 per image, 192 per clip. */
export function mediaTokensEstimate(counts: MediaCounts): number {
  return mediaTokensLowerBound(counts) + (counts.images + counts.clips) * MEDIA_NEWLINE_TOKENS
}
