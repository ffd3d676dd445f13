/**
 * @module
 * The edge's media step: every `image_url` part becomes a shaped `data:image/jpeg` URL and every
 * `input_audio` part a 16 kHz mono WAV, before the body goes to a GPU node. Limits per request are
 * checked first; a part that cannot be shaped is refused with a 400 naming it (`messages[i].content[j]`).
 * Parts are shaped one at a time so the isolate holds at most one decoded image or clip.
 */
import type { ChatRequest } from '../../shared/chat-request.ts'
import { BadRequestError } from '../errors.ts'
import { shapeAudio } from './audio/shape-audio.ts'
import { encodeBase64 } from './base64.ts'
import { shapeImage } from './image/shape-image.ts'
import type { ImageShapingOptions } from './image/shape-image.ts'
import { MediaInputError, MediaPartError } from './media-error.ts'
import { MEDIA_LIMITS } from './media-limits.ts'
import { countMedia } from './media-tokens.ts'
import type { MediaCounts } from './media-tokens.ts'

export type MediaShapingOptions = ImageShapingOptions

export interface MediaStats extends MediaCounts {
  /** Encoded media bytes the client sent, and what goes to the node. */
  bytesIn: number
  bytesOut: number
  /** Total duration of the audio clips, for usage records. */
  audioSeconds: number
}

/** Counts media parts and refuses requests over the per-request limits. */
export function countMediaParts(request: ChatRequest): MediaCounts {
  const counts = countMedia(request)
  if (counts.images > MEDIA_LIMITS.maxImagesPerRequest) {
    throw new BadRequestError(
      `At most ${MEDIA_LIMITS.maxImagesPerRequest} images per request are accepted.`,
      'messages',
    )
  }
  if (counts.clips > MEDIA_LIMITS.maxClipsPerRequest) {
    throw new BadRequestError(
      `At most ${MEDIA_LIMITS.maxClipsPerRequest} audio clips per request are accepted.`,
      'messages',
    )
  }
  return counts
}

/**
 * The wire messages with media shaped. `wireMessages` are the body's messages as sent (extra fields kept);
 * `request` is their validated form, index for index.
 * @example
 * const { messages, stats } = await shapeMessages(request, body.messages, { images: env.IMAGES })
 */
export async function shapeMessages(
  request: ChatRequest,
  wireMessages: readonly Record<string, unknown>[],
  options: MediaShapingOptions = {},
): Promise<{ messages: Record<string, unknown>[]; stats: MediaStats }> {
  const stats = { ...countMediaParts(request), bytesIn: 0, bytesOut: 0, audioSeconds: 0 }
  if (stats.images + stats.clips === 0) return { messages: [...wireMessages], stats }
  const messages: Record<string, unknown>[] = []
  for (const [i, message] of request.messages.entries()) {
    const wire = wireMessages[i] ?? {}
    if (typeof message.content === 'string') {
      messages.push(wire)
      continue
    }
    const content: unknown[] = []
    for (const [j, part] of message.content.entries()) {
      const param = `messages[${i}].content[${j}]`
      if (part.type === 'image_url') {
        const shaped = await guard(param, () => shapeImage(part.image_url, options))
        stats.bytesIn += shaped.bytesIn
        stats.bytesOut += shaped.bytes.length
        const url = `data:${shaped.mediaType};base64,${encodeBase64(shaped.bytes)}`
        content.push({ type: 'image_url', image_url: { ...part.image_url, url } })
      } else if (part.type === 'input_audio') {
        const { data, format } = part.input_audio
        const shaped = await guard(param, () => shapeAudio(data, format))
        stats.bytesIn += shaped.bytesIn
        stats.bytesOut += shaped.wav.length
        stats.audioSeconds += shaped.seconds
        content.push({
          type: 'input_audio',
          input_audio: { data: encodeBase64(shaped.wav), format: 'wav' },
        })
      } else {
        content.push(part)
      }
    }
    messages.push({ ...wire, content })
  }
  return { messages, stats }
}

/**
 * Runs one part's shaping; whatever it throws becomes a 400 for that part. Decoders report bad input as
 * `MediaInputError`; anything else escaping a codec on hostile bytes (a WASM trap, a RangeError) is still
 * the input's fault from the client's point of view, and is kept as the cause for the log.
 */
async function guard<T>(param: string, shape: () => Promise<T>): Promise<T> {
  try {
    return await shape()
  } catch (error) {
    if (error instanceof MediaInputError) throw new MediaPartError(param, error.message, error.kind)
    const refused = new MediaPartError(param, 'the media could not be decoded')
    refused.cause = error
    throw refused
  }
}
