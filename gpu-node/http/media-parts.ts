/**
 * @module
 * Image and audio parts of a chat request on the GPU node: decoded from their data (the edge has already
 * fetched, downscaled and re-encoded them; see worker/media), then preprocessed exactly as the model's
 * processor does (gpu-node/media). Every problem is a 400 naming the part, `messages[i].content[j]`.
 * The node takes `data:` URLs and WAV audio only: remote URLs and MP3 are the edge's job.
 */
import type { ChatRequestMessage } from '../../shared/chat-request.ts'
import { LogMelExtractor } from '../media/audio-features.ts'
import { preprocessImage } from '../media/image-preprocess.ts'
import type { MediaConfig } from '../media/media-config.ts'
import { MediaInputError } from '../media/media-input-error.ts'
import { decodeWav } from '../media/wav-decode.ts'
import type { MediaInput } from '../model/runner-types.ts'
import type { ChatMessage } from '../text/chat-tokenizer.ts'
import { NodeError } from './errors.ts'

interface EncodedPart {
  kind: 'image' | 'audio'
  bytes: Uint8Array
  param: string
}

/** Template messages (images and audio as placeholders) and the media bytes in prompt order. */
export function splitMedia(messages: ChatRequestMessage[]): {
  messages: ChatMessage[]
  parts: EncodedPart[]
} {
  const parts: EncodedPart[] = []
  const templated = messages.map((message, i): ChatMessage => {
    if (typeof message.content === 'string') return { role: message.role, content: message.content }
    return {
      role: message.role,
      content: message.content.map((part, j) => {
        const param = `messages[${i}].content[${j}]`
        if (part.type === 'text') return { type: 'text', text: part.text }
        if (part.type === 'image_url') {
          parts.push({ kind: 'image', bytes: dataUrlBytes(part.image_url.url, param), param })
          return { type: 'image' }
        }
        if (part.input_audio.format !== 'wav') {
          throw new NodeError(
            'invalid_request',
            `The GPU node takes WAV audio; send ${part.input_audio.format} through the edge, which converts it.`,
            { param },
          )
        }
        parts.push({ kind: 'audio', bytes: base64Bytes(part.input_audio.data, param), param })
        return { type: 'audio' }
      }),
    }
  })
  return { messages: templated, parts }
}

/** Preprocesses every part; images concurrently (sharp works off the event loop). */
export async function preprocessParts(
  parts: EncodedPart[],
  config: MediaConfig,
  available: { vision: boolean; audio: boolean },
): Promise<Omit<MediaInput, 'imagePositions' | 'audioPositions'>> {
  const extractor = new LogMelExtractor(config.audio)
  const images = parts.filter((p) => p.kind === 'image')
  const clips = parts.filter((p) => p.kind === 'audio')
  if (images.length > 0 && !available.vision) unsupported(images[0]!, 'image')
  if (clips.length > 0 && !available.audio) unsupported(clips[0]!, 'audio')
  return {
    images: await Promise.all(
      images.map((part) => named(part, () => preprocessImage(part.bytes, config.image))),
    ),
    audio: await Promise.all(
      clips.map((part) =>
        named(part, async () => extractor.extract(decodeWav(part.bytes, config.audio.sampleRate))),
      ),
    ),
  }
}

async function named<T>(part: EncodedPart, run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (error) {
    if (!(error instanceof MediaInputError)) throw error
    throw new NodeError(
      'invalid_request',
      `The ${part.kind} in ${part.param} cannot be used: ${error.message}`,
      {
        param: part.param,
      },
    )
  }
}

function unsupported(part: EncodedPart, kind: string): never {
  throw new NodeError('unsupported_parameter', `This model folder has no ${kind} encoder.`, {
    param: part.param,
  })
}

function dataUrlBytes(url: string, param: string): Uint8Array {
  // Schemes and the base64 marker are case-insensitive (RFC 3986 §3.1, RFC 2397).
  const match = /^data:([^;,]*)(;base64)?,(.*)$/is.exec(url)
  if (!match) {
    throw new NodeError(
      'invalid_request',
      'The GPU node takes images as data: URLs (the edge fetches https URLs).',
      {
        param,
      },
    )
  }
  if (!match[2])
    throw new NodeError('invalid_request', 'The image data: URL must be base64-encoded.', { param })
  return base64Bytes(match[3]!, param)
}

/** Strict base64: Node's decoder skips invalid characters silently, which would hide truncation. */
function base64Bytes(text: string, param: string): Uint8Array {
  const clean = text.replace(/\s+/g, '')
  if (clean.length === 0 || clean.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(clean)) {
    throw new NodeError('invalid_request', 'The base64 data is malformed or truncated.', { param })
  }
  return new Uint8Array(Buffer.from(clean, 'base64'))
}
