/**
 * @module
 * Turns a validated chat request into what the engine runs: the prompt's token ids (the folder's chat
 * template, then its tokenizer), completion tokens clamped exactly to what the context leaves, and sampling
 * parameters with the model's generation_config.json as defaults for what the client left unset.
 */
import type { ChatRequest, ChatRequestMessage } from '../../shared/chat-request.ts'
import type { SequenceRequest } from '../engine/engine.ts'
import { ChatTemplateError } from '../text/chat-tokenizer.ts'
import type { ChatMessage, ChatTokenizer } from '../text/chat-tokenizer.ts'
import type { SamplingParams } from '../text/sampler.ts'
import { NodeError } from './errors.ts'

export interface GenerationDefaults {
  temperature: number
  topP: number
  topK: number
}

export interface PrepareContext {
  tokenizer: ChatTokenizer
  contextLength: number
  defaults: GenerationDefaults
}

/** Reads sampling defaults from generation_config.json (`do_sample: false` means greedy). */
export function generationDefaults(config: Record<string, unknown>): GenerationDefaults {
  const number = (value: unknown, fallback: number): number =>
    typeof value === 'number' && Number.isFinite(value) ? value : fallback
  return {
    temperature: config.do_sample === false ? 0 : number(config.temperature, 1),
    topP: number(config.top_p, 1),
    topK: number(config.top_k, 0),
  }
}

export function prepareGeneration(
  request: ChatRequest,
  identity: { requestId: string; tenant: string },
  context: PrepareContext,
): SequenceRequest {
  const promptIds = encodePrompt(request.messages, context.tokenizer)
  const room = context.contextLength - promptIds.length
  if (room < 1) {
    throw new NodeError(
      'context_length_exceeded',
      `The prompt is ${promptIds.length} tokens; this model's context is ${context.contextLength} tokens, which leaves no room for a completion. Shorten the messages.`,
      { param: 'messages' },
    )
  }
  const sampling: SamplingParams = {
    temperature: request.temperature ?? context.defaults.temperature,
    topP: request.topP ?? context.defaults.topP,
    topK: request.topK ?? context.defaults.topK,
    presencePenalty: request.presencePenalty,
    frequencyPenalty: request.frequencyPenalty,
  }
  return {
    ...identity,
    promptIds,
    maxTokens: Math.min(request.maxCompletionTokens ?? room, room),
    sampling,
    seed: request.seed ?? Math.floor(Math.random() * 2 ** 32),
    stop: request.stop,
  }
}

function encodePrompt(messages: ChatRequestMessage[], tokenizer: ChatTokenizer): number[] {
  try {
    return tokenizer.encodeChat(messages.map(toTemplateMessage), { addGenerationPrompt: true })
  } catch (error) {
    if (error instanceof ChatTemplateError) {
      throw new NodeError(
        'invalid_request',
        `The conversation cannot be rendered: ${error.message}`,
        {
          param: 'messages',
        },
      )
    }
    throw error
  }
}

/** Text parts only for now: image and audio inputs are refused by name until the media path lands. */
function toTemplateMessage(message: ChatRequestMessage, index: number): ChatMessage {
  if (typeof message.content === 'string') return { role: message.role, content: message.content }
  return {
    role: message.role,
    content: message.content.map((part, j) => {
      if (part.type === 'text') return { type: 'text', text: part.text }
      throw new NodeError(
        'unsupported_parameter',
        `'${part.type}' content is not supported by this GPU node yet; send text parts only.`,
        { param: `messages[${index}].content[${j}]` },
      )
    }),
  }
}
