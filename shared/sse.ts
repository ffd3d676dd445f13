/**
 * @module
 * Server-Sent Events as OpenAI streams use them: `data: <json>\n\n` frames, `: comment` keep-alives and a
 * final `data: [DONE]`. One encoder and one incremental decoder for the worker, the GPU node and the tests.
 * Spec: https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 */

/** The frame that ends every OpenAI stream. */
export const SSE_DONE = 'data: [DONE]\n\n'

/** Encodes one JSON payload as a `data:` frame. JSON never contains a raw newline, so one line suffices. */
export function encodeSSEData(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\n\n`
}

/** A comment frame; clients ignore it, proxies and carrier NATs see traffic. */
export function encodeSSEComment(text: string): string {
  return `: ${text.replace(/[\r\n]+/g, ' ')}\n\n`
}

/** One dispatched event. `data` is the joined `data:` lines; comments are not events. */
export interface SSEEvent {
  event: string | null
  data: string
  id: string | null
}

/**
 * Incremental decoder: feed text in arbitrary chunks (split anywhere, even inside `\r\n`), get complete events.
 * @example
 * const decoder = new SSEDecoder()
 * for (const event of decoder.push('data: {"a":1}\n\nda')) console.log(event.data)
 */
export class SSEDecoder {
  #buffer = ''
  #data: string[] = []
  #event: string | null = null
  #id: string | null = null

  push(chunk: string): SSEEvent[] {
    this.#buffer += chunk
    const events: SSEEvent[] = []
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.#buffer)
      if (!match) break
      // A lone '\r' at the very end may be the first half of '\r\n': wait for the next chunk.
      if (match[0] === '\r' && match.index === this.#buffer.length - 1) break
      const line = this.#buffer.slice(0, match.index)
      this.#buffer = this.#buffer.slice(match.index + match[0].length)
      const event = this.#line(line)
      if (event) events.push(event)
    }
    return events
  }

  /** Dispatches a final event that was not followed by a blank line (a stream cut short). */
  end(): SSEEvent[] {
    const events = this.#buffer ? this.push('\n') : []
    const last = this.#line('')
    return last ? [...events, last] : events
  }

  #line(line: string): SSEEvent | null {
    if (line === '') {
      if (this.#data.length === 0) {
        this.#event = null
        return null
      }
      const event = { event: this.#event, data: this.#data.join('\n'), id: this.#id }
      this.#data = []
      this.#event = null
      return event
    }
    if (line.startsWith(':')) return null
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'data') this.#data.push(value)
    else if (field === 'event') this.#event = value
    else if (field === 'id') this.#id = value
    return null
  }
}
