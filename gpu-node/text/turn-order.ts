/**
 * @module
 * The turns of a conversation as Gemma's chat template can take them: strictly user, model, user, ...
 * after the system prompt, and the template raises "roles must alternate" otherwise. OpenAI takes user and
 * assistant messages in any order, and clients send two user messages in a row routinely (a question, then
 * a photo; a question asked again after an answer failed). Such a run of messages becomes one turn, as the
 * template would render one message holding all their contents: text joined by a blank line, images and
 * audio where they were. A conversation of system messages alone becomes the user's turn (the template
 * would drop a system prompt with no user turn to prefix). A conversation whose first turn is the model's has
 * no rendering at all: shared/turn-order.ts finds it, for a 400.
 */
import type { ChatMessage, ChatPart } from './chat-tokenizer.ts'

/** Between the texts of two messages joined into one turn. */
const MESSAGE_BREAK = '\n\n'

/**
 * Joins each run of messages with the same role into one message. Expects the system prompt already
 * folded into the first message (system-prompt.ts).
 * @example
 * templateTurns([{ role: 'user', content: 'A' }, { role: 'user', content: 'B' }])
 * // [{ role: 'user', content: 'A\n\nB' }]
 */
export function templateTurns(messages: ChatMessage[]): ChatMessage[] {
  if (messages.length === 1 && messages[0]!.role === 'system')
    return [{ role: 'user', content: messages[0]!.content }]
  const turns: ChatMessage[] = []
  for (const message of messages) {
    const last = turns.at(-1)
    if (last && last.role === message.role && message.role !== 'system')
      turns[turns.length - 1] = { role: message.role, content: join(last.content, message.content) }
    else turns.push(message)
  }
  return turns
}

/**
 * Two contents as one. The template trims each text (a whole string, or each text part) and writes parts
 * side by side, so the break goes inside one text, never at the edge of one, where it would be trimmed.
 */
function join(a: ChatMessage['content'], b: ChatMessage['content']): ChatMessage['content'] {
  if (typeof a === 'string' && typeof b === 'string')
    return `${a.trimEnd()}${MESSAGE_BREAK}${b.trimStart()}`
  const head = partsOf(a)
  const tail = partsOf(b)
  const last = head.at(-1)
  const first = tail[0]
  if (last?.type === 'text' && first?.type === 'text') {
    const text = `${last.text.trimEnd()}${MESSAGE_BREAK}${first.text.trimStart()}`
    return [...head.slice(0, -1), { type: 'text', text }, ...tail.slice(1)]
  }
  return [...head, ...tail]
}

const partsOf = (content: ChatMessage['content']): ChatPart[] =>
  typeof content === 'string' ? [{ type: 'text', text: content }] : content
