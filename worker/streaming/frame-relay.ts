/**
 * @module
 * The per-frame decisions of the relay, as a pure text-in/text-out state machine (relay.ts owns the
 * streams and timers). `data:` payloads pass through as the node wrote them, except:
 * - usage: the edge always asks the node for usage, and for the usage so far on every chunk
 *   (`x-gemma-continuous-usage`); the client gets `"usage":null` on each chunk only if it asked for
 *   `stream_options.include_usage`, no `usage` member otherwise, and the final usage-only chunk only if it
 *   asked. The last usage seen is kept, so a broken stream is charged for what was generated;
 * - `: comment` keep-alives pass through (carrier NATs drop idle connections);
 * - a node error frame becomes the worker's own error frame, then `data: [DONE]`, and the relay stops;
 * - a node stream that ends or breaks without `[DONE]` becomes an `upstream_error` frame, then `[DONE]`;
 * - either way, a client that asked for usage first gets the usage-only chunk with the tokens generated so
 *   far (what the tenant is charged): usage that always arrives (openai-wire.md), where OpenAI sends none.
 */
import { isErrorBody } from '../../shared/errors.ts'
import type { Usage } from '../../shared/openai.ts'
import type { SSEEvent } from '../../shared/sse.ts'
import { SSEDecoder, SSE_DONE } from '../../shared/sse.ts'
import type { GatewayError } from '../errors.ts'
import { NodeReportedError, UpstreamError, statusForNodeError, toErrorFrame } from '../errors.ts'
import { watchFirstToken } from './first-token.ts'

/** How a relayed stream ended. `cancelled`: the client went away first; `stalled`: the node went silent. */
export type RelayEnding = 'done' | 'node_error' | 'cut' | 'cancelled' | 'stalled'

/** A top-level `"usage":null` member; only ever matched on JSON whose parsed `usage` is `null`. */
const USAGE_NULL = /,\s*"usage"\s*:\s*null(?=\s*[,}])|"usage"\s*:\s*null\s*,/

const LINE_BREAK = /\r\n|\r|\n/

/** One `data:` frame around a payload; multi-line payloads keep one `data:` line per line (SSE spec). */
function dataFrame(data: string): string {
  return `${data
    .split('\n')
    .map((line) => `data: ${line}`)
    .join('\n')}\n\n`
}

type Chunk = { usage?: Usage | null; choices?: unknown } & Record<string, unknown>

export class FrameRelay {
  readonly #includeUsage: boolean
  readonly #sse = new SSEDecoder()
  #pendingLine = ''
  /** A `data:`/`event:` line came and the blank line that ends its event has not. */
  #midEvent = false
  #usage: Usage | null = null
  /** The fields every chunk repeats (`id`, `created`, `model`, ...), for a usage chunk of the edge's own. */
  #head: Record<string, unknown> | null = null
  /** The node's usage-only chunk went to the client. */
  #usageSent = false
  #ending: RelayEnding | null = null
  readonly #watchFirstToken: (chunk: unknown) => void

  /** `onFirstToken` runs once, when the first chunk with generated text goes by. */
  constructor(includeUsage: boolean, onFirstToken?: () => void) {
    this.#includeUsage = includeUsage
    this.#watchFirstToken = watchFirstToken(onFirstToken)
  }

  /** The last usage the node reported (its running count, or the final usage). */
  get usage(): Usage | null {
    return this.#usage
  }

  /** Set once the relay has written its last frame. */
  get ending(): RelayEnding | null {
    return this.#ending
  }

  /** True between events: a keep-alive comment written now cannot split a frame. */
  get atBoundary(): boolean {
    return this.#pendingLine === '' && !this.#midEvent
  }

  /** Node text in, client text out. */
  push(text: string): string {
    let out = ''
    this.#pendingLine += text
    while (this.#ending === null) {
      const match = LINE_BREAK.exec(this.#pendingLine)
      if (!match) break
      // A '\r' at the very end may be half of '\r\n'; wait for the next chunk.
      if (match[0] === '\r' && match.index === this.#pendingLine.length - 1) break
      const line = this.#pendingLine.slice(0, match.index)
      this.#pendingLine = this.#pendingLine.slice(match.index + match[0].length)
      out += this.#onLine(line)
    }
    return out
  }

  /** The node's body ended (or broke): the remaining frames, and the error frame if `[DONE]` never came. */
  end(): string {
    if (this.#ending !== null) return ''
    let out = this.push('\n')
    for (const event of this.#sse.end()) {
      if (this.#ending === null) out += this.#onEvent(event)
    }
    if (this.#ending !== null) return out
    const error = new UpstreamError('The GPU node stream ended before it was complete.')
    return out + this.fail('cut', error)
  }

  /** Ends the stream with `error` (the node broke or went silent). */
  fail(ending: RelayEnding, error: GatewayError): string {
    if (this.#ending !== null) return ''
    this.#ending = ending
    return `${this.#usageSoFar()}${toErrorFrame(error)}${SSE_DONE}`
  }

  /**
   * The usage-only chunk for a stream that ends in an error, if the client asked for usage and has not had
   * the node's own (a stream can break after it, before `[DONE]`).
   */
  #usageSoFar(): string {
    if (!this.#includeUsage || this.#usageSent || !this.#usage || !this.#head) return ''
    return dataFrame(JSON.stringify({ ...this.#head, choices: [], usage: this.#usage }))
  }

  /** SSEDecoder drops comments, so lines are split here: comments are passed on, the rest is decoded. */
  #onLine(line: string): string {
    if (line.startsWith(':')) return `${line}\n\n`
    this.#midEvent = line !== ''
    let out = ''
    for (const event of this.#sse.push(`${line}\n`)) {
      if (this.#ending !== null) break
      out += this.#onEvent(event)
    }
    return out
  }

  #onEvent(event: SSEEvent): string {
    if (event.data === '[DONE]') {
      this.#ending = 'done'
      return SSE_DONE
    }
    let payload: unknown
    try {
      payload = JSON.parse(event.data)
    } catch {
      payload = undefined
    }
    if (isErrorBody(payload) || event.event === 'error') {
      const error = isErrorBody(payload)
        ? new NodeReportedError(statusForNodeError(payload), payload)
        : new UpstreamError('The GPU node reported an error.')
      return this.fail('node_error', error)
    }
    const chunk = payload as Chunk | undefined
    if (chunk?.usage) this.#usage = chunk.usage
    if (this.#includeUsage && this.#head === null && chunk && Array.isArray(chunk.choices)) {
      const head: Record<string, unknown> = { ...chunk }
      delete head.choices
      delete head.usage
      this.#head = head
    }
    this.#watchFirstToken(chunk)
    const usageOnly = Array.isArray(chunk?.choices) && chunk.choices.length === 0
    if (usageOnly) {
      this.#usageSent = this.#includeUsage
      return this.#includeUsage ? dataFrame(event.data) : ''
    }
    if (chunk?.usage) {
      // Continuous usage is for the edge only. Re-serialising keeps the node's member order, so the
      // client sees exactly what a node without continuous usage would have sent.
      const rest: Record<string, unknown> = { ...chunk }
      delete rest.usage
      const data = JSON.stringify(this.#includeUsage ? { ...rest, usage: null } : rest)
      return dataFrame(data)
    }
    if (this.#includeUsage) return dataFrame(event.data)
    const data = chunk?.usage === null ? event.data.replace(USAGE_NULL, '') : event.data
    return dataFrame(data)
  }
}
