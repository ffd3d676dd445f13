/**
 * @module
 * Turns a validated chat request into what the engine runs: the prompt's token ids (the folder's chat
 * template, then its tokenizer), completion tokens clamped exactly to what the context leaves, and sampling
 * parameters with the model's generation_config.json as defaults for what the client left unset. Message
 * text that spells one of the model's control tokens is refused (text/control-tokens.ts); the system
 * messages are folded into one prompt and runs of one role into one turn (text/turn-order.ts).
 */
import type { ChatRequest, ChatRequestMessage } from '../../shared/chat-request.ts'
import { MODEL_SPEAKS_FIRST, modelSpeaksFirst } from '../../shared/turn-order.ts'
import type { SequenceRequest } from '../engine/engine.ts'
import type { MediaConfig } from '../media/media-config.ts'
import { expandMediaText, softTokenPositions } from '../media/prompt-expansion.ts'
import type { MediaInput } from '../model/runner-types.ts'
import { ChatTemplateError } from '../text/chat-tokenizer.ts'
import type { ChatTokenizer } from '../text/chat-tokenizer.ts'
import type { PromptEncoder } from '../text/prompt-encoder.ts'
import type { SamplingParams } from '../text/sampler.ts'
import { foldSystemMessages } from '../text/system-prompt.ts'
import { templateTurns } from '../text/turn-order.ts'
import { NodeError } from './errors.ts'
import { preprocessParts, splitMedia } from './media-parts.ts'

export interface GenerationDefaults {
  temperature: number
  topP: number
  topK: number
}

export interface PrepareContext {
  tokenizer: ChatTokenizer
  /** Encodes the rendered prompt; long ones on a thread of their own (prompt-encoder.ts). */
  encoder: PromptEncoder
  contextLength: number
  defaults: GenerationDefaults
  /** The folder's image/audio processor settings; `null` for a text-only folder. */
  media: MediaConfig | null
  encoders: { vision: boolean; audio: boolean }
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

export async function prepareGeneration(
  request: ChatRequest,
  identity: { requestId: string; tenant: string; priority: number },
  context: PrepareContext,
): Promise<SequenceRequest> {
  const { promptIds, media } = await encodePrompt(request.messages, context)
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
    ...(media ? { media } : {}),
  }
}

/**
 * A 400 naming the text that spells a control token (a forged turn, or text passing for media). The
 * template trims the text parts of a user or assistant message and writes them side by side, so their
 * joined text is searched too: `<end_of` and `_turn>` in two parts are one `<end_of_turn>` in the prompt.
 * (A system message's parts are joined with blank lines instead, system-prompt.ts.)
 */
function refuseControlTokens(messages: ChatRequestMessage[], tokenizer: ChatTokenizer): void {
  messages.forEach((message, i) => {
    const texts =
      typeof message.content === 'string'
        ? [{ text: message.content, param: `messages[${i}].content` }]
        : [
            ...message.content.flatMap((part, j) =>
              part.type === 'text'
                ? [{ text: part.text, param: `messages[${i}].content[${j}].text` }]
                : [],
            ),
            ...(message.role === 'system'
              ? []
              : [{ text: renderedText(message.content), param: `messages[${i}].content` }]),
          ]
    for (const { text, param } of texts) {
      const token = tokenizer.controlTokens.find(text)
      if (token === null) continue
      throw new NodeError(
        'invalid_request',
        `The message text contains ${JSON.stringify(token.slice(0, 64))}, one of the model's control tokens, which cannot be sent as text.`,
        { param },
      )
    }
  })
}

/** A message's parts as the template writes them, with a character no token has where media goes. */
const renderedText = (parts: Exclude<ChatRequestMessage['content'], string>): string =>
  parts.map((part) => (part.type === 'text' ? part.text.trim() : '\u0000')).join('')

/** The prompt's token ids; with images or audio, soft tokens expanded and the media preprocessed. */
async function encodePrompt(
  messages: ChatRequestMessage[],
  context: PrepareContext,
): Promise<{ promptIds: number[]; media: MediaInput | null }> {
  refuseControlTokens(messages, context.tokenizer)
  const { messages: split, parts } = splitMedia(messages)
  const opening = modelSpeaksFirst(split)
  if (opening >= 0) {
    throw new NodeError('invalid_value', MODEL_SPEAKS_FIRST, { param: `messages[${opening}].role` })
  }
  const folded = foldSystemMessages(split)
  if (!folded.ok) {
    throw new NodeError(
      'invalid_request',
      'A system message can only open the conversation: this model has no system turn after the first user turn.',
      { param: `messages[${folded.misplaced}].role` },
    )
  }
  const templated = templateTurns(folded.messages)
  const tokenizer = context.tokenizer
  const prompt = render(() => tokenizer.renderChat(templated, GENERATE))
  if (parts.length === 0) return { promptIds: await context.encoder.encode(prompt), media: null }
  if (!context.media) {
    throw new NodeError(
      'unsupported_parameter',
      'This model folder has no image or audio processor.',
      {
        param: parts[0]!.param,
      },
    )
  }
  const expanded = expandMediaText(tokenizer, prompt, context.media.prompt)
  const images = parts.filter((p) => p.kind === 'image').length
  if (expanded.images !== images || expanded.audio !== parts.length - images) {
    // Text that spells a soft token would be taken for media: refuse rather than misplace features.
    throw new NodeError(
      'invalid_request',
      'The message text contains a reserved image or audio token.',
      {
        param: 'messages',
      },
    )
  }
  const [promptIds, preprocessed] = await Promise.all([
    context.encoder.encode(expanded.text),
    preprocessParts(parts, context.media, context.encoders),
  ])
  return {
    promptIds,
    media: { ...preprocessed, ...softTokenPositions(tokenizer, promptIds) },
  }
}

const GENERATE = { addGenerationPrompt: true }

function render<T>(run: () => T): T {
  try {
    return run()
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
