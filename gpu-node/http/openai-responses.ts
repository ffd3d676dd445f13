/**
 * @module
 * Builders for the OpenAI response objects a GPU node sends: streamed chunks (role first, content deltas,
 * a finish chunk, the optional usage chunk) and the non-streamed completion. One identity per request:
 * `id`, `created`, `model` and `system_fingerprint` are the same in every chunk.
 */
import type {
  ChatCompletion,
  ChatCompletionChunk,
  FinishReason,
  Usage,
} from '../../shared/openai.ts'
import type { GenerationUsage } from '../engine/output-channel.ts'

export interface ResponseIdentity {
  id: string
  created: number
  model: string
  systemFingerprint: string
  /** With `stream_options.include_usage`, every chunk carries `usage: null` until the usage chunk. */
  includeUsage: boolean
  /** The edge asked for the usage so far on every chunk (`x-gemma-continuous-usage: 1`). */
  continuousUsage: boolean
}

export function newIdentity(
  model: string,
  fingerprint: string,
  includeUsage: boolean,
  continuousUsage = false,
): ResponseIdentity {
  const id = `chatcmpl-${crypto.randomUUID().replaceAll('-', '')}`
  return {
    id,
    created: Math.floor(Date.now() / 1000),
    model,
    systemFingerprint: fingerprint,
    includeUsage,
    continuousUsage,
  }
}

export function toUsage(usage: GenerationUsage): Usage {
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.promptTokens + usage.completionTokens,
    prompt_tokens_details: {
      cached_tokens: 0,
      text_tokens: usage.promptTokens - usage.imageTokens - usage.audioTokens,
      image_tokens: usage.imageTokens,
      audio_tokens: usage.audioTokens,
    },
  }
}

/**
 * A content chunk. `usage` (the usage so far) is put on it only when the edge asked for continuous usage;
 * otherwise `usage` is `null` with `include_usage` and absent without.
 */
export function chunk(
  identity: ResponseIdentity,
  delta: ChatCompletionChunk['choices'][number]['delta'],
  finishReason: FinishReason | null = null,
  usage: GenerationUsage | null = null,
): ChatCompletionChunk {
  const base = envelope(identity)
  const choice = { index: 0, delta, logprobs: null, finish_reason: finishReason }
  if (identity.continuousUsage && usage)
    return { ...base, choices: [choice], usage: toUsage(usage) }
  return identity.includeUsage
    ? { ...base, choices: [choice], usage: null }
    : { ...base, choices: [choice] }
}

/** The extra last chunk of `include_usage` streams: no choices, the full usage. */
export function usageChunk(
  identity: ResponseIdentity,
  usage: GenerationUsage,
): ChatCompletionChunk {
  return { ...envelope(identity), choices: [], usage: toUsage(usage) }
}

export function completion(
  identity: ResponseIdentity,
  content: string,
  finishReason: FinishReason,
  usage: GenerationUsage,
): ChatCompletion {
  return {
    id: identity.id,
    object: 'chat.completion',
    created: identity.created,
    model: identity.model,
    system_fingerprint: identity.systemFingerprint,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content, refusal: null },
        logprobs: null,
        finish_reason: finishReason,
      },
    ],
    usage: toUsage(usage),
  }
}

function envelope(identity: ResponseIdentity) {
  return {
    id: identity.id,
    object: 'chat.completion.chunk' as const,
    created: identity.created,
    model: identity.model,
    system_fingerprint: identity.systemFingerprint,
  }
}
