/**
 * @module
 * After the chat template: each image / audio placeholder becomes
 * `\n\n` + begin marker + N soft tokens + end marker + `\n\n`, N from processor_config.json
 * (`image_seq_length`, `audio_seq_length`), exactly as the Gemma 3n processor does it (HF
 * processing_gemma3n.py, transformers.js processing_gemma3n.js; gemma3n-contract.md §5).
 *
 * The expansion is done on the rendered text and the whole text is then tokenized, as the processor does,
 * because the inserted `\n\n` can merge with neighbouring newlines into other tokens: splicing ids into an
 * already tokenized prompt would give different ids.
 */
import type { JsonObject } from '../text/model-files.ts'
import type { ChatTokenizer } from '../text/chat-tokenizer.ts'

/** Soft tokens per image and per audio clip (processor_config.json). */
export interface MediaPromptConfig {
  imageSeqLength: number
  audioSeqLength: number
}

/** The prompt after expansion. */
export interface ExpandedPrompt {
  ids: number[]
  /** Index in `ids` of every image soft token, in order: image 0's rows, then image 1's, ... */
  imagePositions: number[]
  /** Same for audio soft tokens. */
  audioPositions: number[]
  /** Placeholders found in the rendered text (to check against the number of parts sent). */
  images: number
  audio: number
}

/**
 * Reads `image_seq_length` and `audio_seq_length` from a parsed processor_config.json (HF processor
 * defaults 256 and 188 when absent).
 * @example const config = mediaPromptConfig(JSON.parse(text))
 */
export function mediaPromptConfig(json: JsonObject): MediaPromptConfig {
  const count = (key: string, fallback: number): number => {
    const value = json[key] ?? fallback
    if (!Number.isInteger(value) || (value as number) <= 0) {
      throw new Error(`processor_config.json: "${key}" must be a positive integer`)
    }
    return value as number
  }
  return {
    imageSeqLength: count('image_seq_length', 256),
    audioSeqLength: count('audio_seq_length', 188),
  }
}

/** Token text of a special id the tokenizer must have; the error names the missing role. */
function tokenText(tokenizer: ChatTokenizer, id: number | undefined, role: string): string {
  if (id === undefined) {
    throw new Error(`The tokenizer has no ${role} token; this model folder cannot take media`)
  }
  return tokenizer.decode([id])
}

function countOf(text: string, token: string): number {
  return text.split(token).length - 1
}

/**
 * Expands the placeholders of a rendered prompt and tokenizes it (no special tokens added: the template
 * writes `<bos>`).
 * @example
 * const text = tok.renderChat(messages, { addGenerationPrompt: true })
 * const { ids, imagePositions, audioPositions } = expandMediaPrompt(tok, text, config)
 */
export function expandMediaPrompt(
  tokenizer: ChatTokenizer,
  prompt: string,
  config: MediaPromptConfig,
): ExpandedPrompt {
  const expanded = expandMediaText(tokenizer, prompt, config)
  const ids = tokenizer.encode(expanded.text)
  return {
    ids,
    ...softTokenPositions(tokenizer, ids),
    images: expanded.images,
    audio: expanded.audio,
  }
}

/**
 * The first half of `expandMediaPrompt`: the rendered prompt with each placeholder replaced by its run of
 * soft tokens, and how many of each there were; tokenize `text` (on any thread), then find the positions.
 */
export function expandMediaText(
  tokenizer: ChatTokenizer,
  prompt: string,
  config: MediaPromptConfig,
): { text: string; images: number; audio: number } {
  const s = tokenizer.special
  let text = prompt
  /** Replaces every `token` with its run; returns how many there were. */
  const expand = (
    token: number | undefined,
    begin: number | undefined,
    end: number | undefined,
    length: number,
    what: string,
  ): number => {
    if (token === undefined) return 0
    const soft = tokenText(tokenizer, token, `${what} soft`)
    const found = countOf(text, soft)
    if (found > 0) {
      const run = `${tokenText(tokenizer, begin, `begin-of-${what}`)}${soft.repeat(length)}${tokenText(tokenizer, end, `end-of-${what}`)}`
      text = text.replaceAll(soft, `\n\n${run}\n\n`)
    }
    return found
  }
  // Audio first, then images, in the processor's order (neither run contains the other soft token).
  const audio = expand(s.audioToken, s.boa, s.eoa, config.audioSeqLength, 'audio')
  const images = expand(s.imageToken, s.boi, s.eoi, config.imageSeqLength, 'image')
  return { text, images, audio }
}

/** The second half of `expandMediaPrompt`: where the image and audio soft tokens sit in the ids. */
export function softTokenPositions(
  tokenizer: ChatTokenizer,
  ids: readonly number[],
): { imagePositions: number[]; audioPositions: number[] } {
  const s = tokenizer.special
  const imagePositions: number[] = []
  const audioPositions: number[] = []
  ids.forEach((id, i) => {
    if (id === s.imageToken) imagePositions.push(i)
    else if (id === s.audioToken) audioPositions.push(i)
  })
  return { imagePositions, audioPositions }
}
