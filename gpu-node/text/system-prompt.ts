/**
 * @module
 * The system prompt as Gemma's chat template can take it. The template reads only `messages[0]` as the
 * system prompt, and of a list of parts only the first text: OpenAI clients may send several system (or
 * developer) messages in a row, or a system message in parts, and would lose all but the first part or
 * get "roles must alternate". The system messages that open a conversation are folded into one string
 * (blank lines between them); a system message after a user or assistant turn has no place in the
 * template, and is reported by its index.
 */
import type { ChatMessage } from './chat-tokenizer.ts'

const textOf = (content: ChatMessage['content']): string =>
  typeof content === 'string'
    ? content
    : content.flatMap((part) => (part.type === 'text' ? [part.text] : [])).join('\n\n')

/**
 * @example
 * foldSystemMessages([{ role: 'system', content: 'A' }, { role: 'system', content: 'B' }, user])
 * // { ok: true, messages: [{ role: 'system', content: 'A\n\nB' }, user] }
 */
export function foldSystemMessages(
  messages: ChatMessage[],
): { ok: true; messages: ChatMessage[] } | { ok: false; misplaced: number } {
  let leading = 0
  while (messages[leading]?.role === 'system') leading++
  const misplaced = messages.findIndex((message, i) => i >= leading && message.role === 'system')
  if (misplaced >= 0) return { ok: false, misplaced }
  if (leading === 0) return { ok: true, messages }
  const system = messages
    .slice(0, leading)
    .map((message) => textOf(message.content))
    .join('\n\n')
  return { ok: true, messages: [{ role: 'system', content: system }, ...messages.slice(leading)] }
}
