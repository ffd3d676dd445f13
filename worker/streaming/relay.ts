/**
 * @module
 * Relays a GPU node's SSE body to a streaming client through one TransformStream. `data:` payloads pass
 * through as the node wrote them (no re-serialising of chunk JSON); the relay only decides per frame:
 * - the usage-only chunk (`choices: []`) and each chunk's `"usage":null` reach the client only when it asked
 *   for `stream_options.include_usage` (the edge always asks the node, so it sees usage either way);
 * - `: comment` keep-alives pass through (carrier NATs drop idle connections);
 * - a node error frame becomes the worker's own error frame, then `data: [DONE]`, and the relay stops;
 * - a node stream that ends or breaks without `[DONE]` becomes an `upstream_error` frame, then `[DONE]`.
 * The exact usage the node reported is exposed through `outcome` for logging and, later, budgeting.
 */
import { isErrorBody } from '../../shared/errors.ts'
import type { Usage } from '../../shared/openai.ts'
import type { SSEEvent } from '../../shared/sse.ts'
import { SSEDecoder, SSE_DONE } from '../../shared/sse.ts'
import { NodeReportedError, UpstreamError, statusForNodeError, toErrorFrame } from '../errors.ts'

/** How a relayed stream ended. `cancelled`: the client went away first. */
export type RelayEnding = 'done' | 'node_error' | 'cut' | 'cancelled'

export interface RelayOutcome {
  ending: RelayEnding
  /** The node's exact usage, or `null` when it never arrived (error, cut, cancel). */
  usage: Usage | null
}

export interface Relay {
  body: ReadableStream<Uint8Array>
  outcome: Promise<RelayOutcome>
}

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

/**
 * A view of the node's body in which a network error reads as a plain end, so the relay's `flush` can
 * still write the closing error frame (a `pipeThrough` from an errored source would only error the client
 * stream, which openai-node reports as a connection error, not an API error). Cancelling it cancels the
 * node's body, which closes the connection to the node.
 */
function endOnError(source: ReadableStream<Uint8Array>, onCancel: () => void) {
  const reader = source.getReader()
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read()
        if (done) controller.close()
        else controller.enqueue(value)
      } catch {
        controller.close()
      }
    },
    async cancel(reason) {
      onCancel()
      await reader.cancel(reason).catch(() => undefined)
    },
  })
}

type Controller = TransformStreamDefaultController<Uint8Array>

/** The per-stream state machine behind the relay's TransformStream (methods are the Transformer API). */
class NodeFrameRelay implements Transformer<Uint8Array, Uint8Array> {
  readonly #includeUsage: boolean
  readonly #settle: (outcome: RelayOutcome) => void
  readonly #encoder = new TextEncoder()
  readonly #decoder = new TextDecoder()
  readonly #sse = new SSEDecoder()
  #pendingLine = ''
  #usage: Usage | null = null
  #ended = false
  #flushing = false

  constructor(includeUsage: boolean, settle: (outcome: RelayOutcome) => void) {
    this.#includeUsage = includeUsage
    this.#settle = settle
  }

  /** Usage seen so far, for an outcome decided outside the transform (client cancel). */
  get usage(): Usage | null {
    return this.#usage
  }

  transform(chunk: Uint8Array, controller: Controller): void {
    if (!this.#ended) this.#onText(this.#decoder.decode(chunk, { stream: true }), controller)
  }

  flush(controller: Controller): void {
    if (this.#ended) return
    this.#flushing = true
    this.#onText(`${this.#decoder.decode()}\n`, controller)
    for (const event of this.#ended ? [] : this.#sse.end()) {
      if (!this.#ended) this.#onEvent(event, controller)
    }
    if (this.#ended) return
    const error = new UpstreamError('The GPU node stream ended before it was complete.')
    this.#finish(controller, 'cut', toErrorFrame(error))
  }

  #send(controller: Controller, text: string): void {
    controller.enqueue(this.#encoder.encode(text))
  }

  #finish(controller: Controller, ending: RelayEnding, errorFrame = ''): void {
    this.#ended = true
    this.#send(controller, `${errorFrame}${SSE_DONE}`)
    this.#settle({ ending, usage: this.#usage })
    // Stops reading the node: the pipe then cancels the source, which closes the node connection. In
    // `flush` the stream is closing anyway.
    if (!this.#flushing) controller.terminate()
  }

  #onText(text: string, controller: Controller): void {
    this.#pendingLine += text
    for (;;) {
      const match = LINE_BREAK.exec(this.#pendingLine)
      if (!match || this.#ended) return
      // A '\r' at the very end may be half of '\r\n'; wait for the next chunk.
      if (match[0] === '\r' && match.index === this.#pendingLine.length - 1) return
      const line = this.#pendingLine.slice(0, match.index)
      this.#pendingLine = this.#pendingLine.slice(match.index + match[0].length)
      this.#onLine(line, controller)
    }
  }

  /** SSEDecoder drops comments, so lines are split here: comments are passed on, the rest is decoded. */
  #onLine(line: string, controller: Controller): void {
    if (line.startsWith(':')) return this.#send(controller, `${line}\n\n`)
    for (const event of this.#sse.push(`${line}\n`)) {
      if (this.#ended) return
      this.#onEvent(event, controller)
    }
  }

  #onEvent(event: SSEEvent, controller: Controller): void {
    if (event.data === '[DONE]') return this.#finish(controller, 'done')
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
      return this.#finish(controller, 'node_error', toErrorFrame(error))
    }
    const chunk = payload as { usage?: Usage | null; choices?: unknown } | undefined
    if (chunk?.usage) this.#usage = chunk.usage
    if (this.#includeUsage) return this.#send(controller, dataFrame(event.data))
    if (Array.isArray(chunk?.choices) && chunk.choices.length === 0) return
    const data = chunk?.usage === null ? event.data.replace(USAGE_NULL, '') : event.data
    this.#send(controller, dataFrame(data))
  }
}

/**
 * Wraps a node SSE body for a streaming client.
 * @example
 * const relay = relayNodeStream(nodeBody, { includeUsage: request.includeUsage })
 * ctx.waitUntil(relay.outcome.then(log))
 * return new Response(relay.body, { headers: { 'content-type': 'text/event-stream' } })
 */
export function relayNodeStream(
  source: ReadableStream<Uint8Array>,
  options: { includeUsage: boolean },
): Relay {
  let settled = false
  let resolve: (outcome: RelayOutcome) => void = () => undefined
  const outcome = new Promise<RelayOutcome>((r) => (resolve = r))
  const settle = (value: RelayOutcome) => {
    if (settled) return
    settled = true
    resolve(value)
  }
  const relay = new NodeFrameRelay(options.includeUsage, settle)
  const onCancel = () => settle({ ending: 'cancelled', usage: relay.usage })
  const body = endOnError(source, onCancel).pipeThrough(new TransformStream(relay))
  return { body, outcome }
}
