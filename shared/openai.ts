/**
 * @module
 * OpenAI chat-completion wire types that gemma-edge sends (responses, chunks, usage, models). Request types
 * come from the validating schema in `chat-request.ts`. Field meanings: openai-openapi `CreateChatCompletion*`.
 */

/** `CompletionUsage`. `prompt_tokens_details` breaks the prompt down by modality. */
export interface Usage {
  prompt_tokens: number
  completion_tokens: number
  total_tokens: number
  prompt_tokens_details?: {
    cached_tokens: number
    text_tokens?: number
    image_tokens?: number
    audio_tokens?: number
  }
}

export type FinishReason = 'stop' | 'length'

/** Non-streaming response (`object: "chat.completion"`). */
export interface ChatCompletion {
  id: string
  object: 'chat.completion'
  created: number
  model: string
  system_fingerprint: string
  choices: {
    index: number
    message: { role: 'assistant'; content: string; refusal: null }
    logprobs: null
    finish_reason: FinishReason
  }[]
  usage: Usage
}

/** One streamed chunk. With `include_usage`, every chunk carries `usage: null` and a last one has usage. */
export interface ChatCompletionChunk {
  id: string
  object: 'chat.completion.chunk'
  created: number
  model: string
  system_fingerprint: string
  choices: {
    index: number
    delta: { role?: 'assistant'; content?: string }
    logprobs: null
    finish_reason: FinishReason | null
  }[]
  usage?: Usage | null
}

/** `GET /v1/models` entry. `gemma_edge` carries what a developer must know (e.g. random contract weights). */
export interface ModelCard {
  id: string
  object: 'model'
  created: number
  owned_by: string
  gemma_edge?: { contract_model: boolean; note: string | null; context_length: number }
}
