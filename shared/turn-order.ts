/**
 * @module
 * The one rule of Gemma's chat format that no OpenAI conversation can be bent to fit: after the system
 * messages, the user speaks first (the node joins any other run of one role into a turn,
 * gpu-node/text/turn-order.ts). Both sides check it: the edge before it reserves a budget or shapes any
 * media, the node for callers that reach it directly.
 */

/** What a client is told when the assistant opens the conversation. */
export const MODEL_SPEAKS_FIRST =
  "The conversation must begin with a user message (after any system messages): this model's chat format has no turn of its own before the user's first."

/**
 * The index of the first message after the system ones when it is the assistant's, else -1.
 * @example modelSpeaksFirst([{ role: 'system' }, { role: 'assistant' }, { role: 'user' }]) // 1
 */
export function modelSpeaksFirst(messages: readonly { role: string }[]): number {
  const first = messages.findIndex((message) => message.role !== 'system')
  return first >= 0 && messages[first]!.role === 'assistant' ? first : -1
}
